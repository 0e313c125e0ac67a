import { deepEqual, equal, ok } from "node:assert/strict";
import { join } from "node:path";
import { qualifiedRef, writeOciArchive } from "./oci.ts";

Deno.test("qualifiedRef() names references as containerd stores them", () => {
  equal(qualifiedRef("tsn-proxy/agent:0.1.0"), "docker.io/tsn-proxy/agent:0.1.0");
  equal(qualifiedRef("busybox:1"), "docker.io/library/busybox:1");
  equal(qualifiedRef("registry.local:5000/a/b:c"), "registry.local:5000/a/b:c");
  equal(qualifiedRef("localhost/a:b"), "localhost/a:b");
});

async function sha256(data: Uint8Array<ArrayBuffer>): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("writeOciArchive() writes a layout whose digests match and whose name is the ref", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsn-oci-test-" });
  try {
    await Deno.mkdir(join(dir, "root/bin"), { recursive: true });
    await Deno.writeTextFile(join(dir, "root/bin/hello"), "hi\n");
    const out = join(dir, "img.tar");
    const digest = await writeOciArchive({
      rootfs: join(dir, "root"),
      ref: "tsn/x:1",
      entrypoint: ["/bin/hello"],
      env: ["A=1"],
      out,
    });
    const x = join(dir, "x");
    await Deno.mkdir(x);
    const tar = await new Deno.Command("/usr/bin/tar", { args: ["-C", x, "-xf", out] }).output();
    ok(tar.success);
    const index = JSON.parse(await Deno.readTextFile(join(x, "index.json")));
    const m = index.manifests[0];
    equal(m.digest, digest);
    equal(m.annotations["io.containerd.image.name"], "docker.io/tsn/x:1");
    const blob = (d: string) => Deno.readFile(join(x, "blobs/sha256", d.replace("sha256:", "")));
    const manifestBytes = await blob(m.digest);
    equal(`sha256:${await sha256(manifestBytes)}`, m.digest);
    const manifest = JSON.parse(new TextDecoder().decode(manifestBytes));
    const layer = await blob(manifest.layers[0].digest);
    equal(`sha256:${await sha256(layer)}`, manifest.layers[0].digest);
    const config = JSON.parse(new TextDecoder().decode(await blob(manifest.config.digest)));
    deepEqual(config.config.Entrypoint, ["/bin/hello"]);
    deepEqual(config.rootfs.diff_ids, [manifest.layers[0].digest]);
    // The same rootfs gives the same image (fixed owner and time).
    const again = await writeOciArchive({
      rootfs: join(dir, "root"),
      ref: "tsn/x:1",
      entrypoint: ["/bin/hello"],
      env: ["A=1"],
      out: join(dir, "again.tar"),
    });
    equal(again, digest);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
