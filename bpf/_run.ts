import { repoRoot } from "./repo.ts";

/** Runs a command from the repository root and throws with its stderr when it fails. */
export async function run(cmd: string, args: string[], cwd = repoRoot()): Promise<string> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim();
    throw new Error(`${cmd} ${args.join(" ")} failed (exit ${out.code}):\n${err}`);
  }
  return new TextDecoder().decode(out.stdout);
}
