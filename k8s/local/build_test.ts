import { deepEqual } from "node:assert/strict";
import { kubeCacheDir, requiredModules, stagingModules } from "./build.ts";

const GO_MOD = `module k8s.io/kubernetes

go 1.24.0

require (
	github.com/foo/bar v1.2.3
	k8s.io/api v0.0.0
	k8s.io/client-go v0.0.0 // indirect
)

require k8s.io/kubelet v0.0.0

replace (
	k8s.io/api => ./staging/src/k8s.io/api
	k8s.io/client-go => ./staging/src/k8s.io/client-go
	k8s.io/kubelet => ./staging/src/k8s.io/kubelet
	k8s.io/sample-cli-plugin => ./staging/src/k8s.io/sample-cli-plugin
	github.com/x/y => github.com/x/z v1.0.0
)
`;

Deno.test("stagingModules() lists the ./staging replaces only", () => {
  deepEqual(stagingModules(GO_MOD), [
    "k8s.io/api",
    "k8s.io/client-go",
    "k8s.io/kubelet",
    "k8s.io/sample-cli-plugin",
  ]);
});

Deno.test("requiredModules() reads block and single-line requires, not replaces", () => {
  const req = requiredModules(GO_MOD);
  deepEqual([...req].sort(), [
    "github.com/foo/bar",
    "k8s.io/api",
    "k8s.io/client-go",
    "k8s.io/kubelet",
  ]);
  // k8s.io/sample-cli-plugin is replaced but not required: it must not be asked for.
  deepEqual(req.has("k8s.io/sample-cli-plugin"), false);
});

Deno.test("kubeCacheDir() keys the cache by version", () => {
  deepEqual(kubeCacheDir("/r", "v1.34.3"), "/r/.cache/k8s/v1.34.3");
});
