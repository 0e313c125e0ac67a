/**
 * Kernel tests of bpffs directory handling (root, bpffs mounted at /sys/fs/bpf).
 */
import { equal, ok, throws } from "node:assert/strict";
import {
  BPF_FS_MAGIC,
  bpffsMounts,
  ensureBpffsDir,
  fsMagic,
  removeBpffsDir,
  unpin,
} from "./bpffs.ts";
import { BpfObject } from "./object.ts";
import { CORE_OBJECT, kernelTest, randomSuffix, TC_ONLY, tempBpffsDir } from "./testutil.ts";

kernelTest({
  name: "ensureBpffsDir creates nested dirs on bpffs, refuses its root and other filesystems",
  fn() {
    const dir = tempBpffsDir();
    try {
      ok(bpffsMounts().includes("/sys/fs/bpf"));
      equal(fsMagic("/sys/fs/bpf"), BPF_FS_MAGIC);
      const nested = ensureBpffsDir(`${dir}/a/b/../c`);
      equal(nested, `${dir}/a/c`);
      ok(Deno.statSync(nested).isDirectory);
      equal(ensureBpffsDir(`${dir}/a/c/`), nested); // idempotent

      throws(() => ensureBpffsDir("/sys/fs/bpf"), /mount root/);
      throws(() => ensureBpffsDir("/sys/fs/bpf/"), /mount root/);
      throws(() => ensureBpffsDir(`${dir}/../..//bpf`), /mount root/);
      const tmp = `/tmp/tsn-test-${randomSuffix()}`;
      throws(() => ensureBpffsDir(tmp), /not on a mounted bpffs/);
      throws(() => Deno.statSync(tmp), Deno.errors.NotFound);
      throws(() => removeBpffsDir("/tmp"), /not below a bpffs mount/);
      throws(() => removeBpffsDir("/sys/fs/bpf"), /not below a bpffs mount/);

      // Pins below are removed with the directory; unpin reports whether there was a pin.
      using obj = BpfObject.open(CORE_OBJECT, { autoload: TC_ONLY });
      obj.load();
      obj.map("tsn_records").pin(`${nested}/records`);
      obj.map("tsn_counters").pin(`${nested}/counters`);
      equal(unpin(`${nested}/records`), true);
      equal(unpin(`${nested}/records`), false);
    } finally {
      removeBpffsDir(dir);
    }
    throws(() => Deno.statSync(dir), Deno.errors.NotFound);
    removeBpffsDir(dir); // already gone: no error
  },
});
