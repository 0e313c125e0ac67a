/**
 * Offline validation of Kubernetes objects against the API schemas, two independent ways:
 *
 * - `kubernetes-models` (the OpenAPI schemas compiled to validators): types, enums, required
 *   fields, formats — what the API server's validation would refuse first;
 * - `@kubernetes/client-node`'s generated models (`attributeTypeMap`): every field of the object
 *   must exist in the API type, recursively — what `kubectl apply`'s strict field validation
 *   refuses ("unknown field"), and what the OpenAPI validators let through.
 *
 * Both packages are imported on first use (tests and tools only; the CLI never loads them).
 *
 * @example
 * ```ts
 * import { validateObject } from "./validate.ts";
 * const errors = await validateObject({ apiVersion: "v1", kind: "Namespace", metadata: { name: "x" } });
 * console.log(errors); // []
 * ```
 *
 * @module
 */

type Obj = Record<string, unknown>;

interface Model {
  validate(): void;
}
type ModelClass = new (data: never) => Model;

// Static imports (one per kind the manifest and the kind e2e use), so the module graph is known
// ahead and works offline; a dynamic import of a computed npm path would not be.
const MODELS: Record<string, () => Promise<ModelClass>> = {
  "v1/Namespace": async () => (await import("kubernetes-models/v1/Namespace")).Namespace,
  "v1/ServiceAccount": async () =>
    (await import("kubernetes-models/v1/ServiceAccount")).ServiceAccount,
  "v1/ConfigMap": async () => (await import("kubernetes-models/v1/ConfigMap")).ConfigMap,
  "v1/Pod": async () => (await import("kubernetes-models/v1/Pod")).Pod,
  "rbac.authorization.k8s.io/v1/ClusterRole": async () =>
    (await import("kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole")).ClusterRole,
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": async () =>
    (await import("kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding"))
      .ClusterRoleBinding,
  "rbac.authorization.k8s.io/v1/Role": async () =>
    (await import("kubernetes-models/rbac.authorization.k8s.io/v1/Role")).Role,
  "rbac.authorization.k8s.io/v1/RoleBinding": async () =>
    (await import("kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding")).RoleBinding,
  "apps/v1/DaemonSet": async () => (await import("kubernetes-models/apps/v1/DaemonSet")).DaemonSet,
};

/** Errors of the OpenAPI schema validation (kubernetes-models); empty when valid. */
async function schemaErrors(object: object): Promise<string[]> {
  const obj = object as Obj;
  const key = `${obj.apiVersion}/${obj.kind}`;
  const load = MODELS[key];
  if (!load) return [`no schema for ${key} (add it to k8s/validate.ts MODELS)`];
  const Model = await load();
  try {
    new Model(structuredClone(obj) as never).validate();
    return [];
  } catch (e) {
    return String((e as Error).message).split("\n").map((l) => `${key}: ${l.trim()}`)
      .filter((l) => !l.endsWith(":"));
  }
}

interface Attribute {
  readonly baseName: string;
  readonly type: string;
}
type ClientModels = Record<string, { getAttributeTypeMap?: () => Attribute[] } | undefined>;

let clientModels: Promise<ClientModels> | undefined;

function loadClientModels(): Promise<ClientModels> {
  clientModels ??= import("@kubernetes/client-node").then((m) => m as unknown as ClientModels);
  return clientModels;
}

const PRIMITIVES = new Set(["string", "number", "boolean", "Date", "IntOrString", "any", "object"]);

function walk(models: ClientModels, type: string, value: unknown, path: string, out: string[]) {
  if (value === undefined || value === null) return;
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (!Array.isArray(value)) {
      out.push(`${path}: expected a list`);
      return;
    }
    value.forEach((v, i) => walk(models, array[1]!, v, `${path}[${i}]`, out));
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (typeof value !== "object" || Array.isArray(value)) {
      out.push(`${path}: expected a mapping`);
      return;
    }
    for (const [k, v] of Object.entries(value as Obj)) {
      walk(models, map[1]!, v, `${path}.${k}`, out);
    }
    return;
  }
  if (PRIMITIVES.has(type)) {
    if (typeof value === "object" && type !== "any" && type !== "object") {
      out.push(`${path}: expected ${type}, got an object`);
    }
    return;
  }
  const model = models[type]?.getAttributeTypeMap;
  if (!model) {
    out.push(`${path}: unknown API type ${type}`);
    return;
  }
  if (typeof value !== "object" || Array.isArray(value)) {
    out.push(`${path}: expected a ${type} object`);
    return;
  }
  const attrs = new Map(model().map((a) => [a.baseName, a.type]));
  for (const [k, v] of Object.entries(value as Obj)) {
    const t = attrs.get(k);
    if (t === undefined) {
      out.push(`${path}.${k}: unknown field (not in ${type})`);
      continue;
    }
    walk(models, t, v, `${path}.${k}`, out);
  }
}

/** client-node's model name of an apiVersion + kind (`apps/v1` + `DaemonSet` → `V1DaemonSet`). */
function clientModelName(apiVersion: string, kind: string): string {
  const version = apiVersion.split("/").at(-1)!;
  return `${version[0]!.toUpperCase()}${version.slice(1)}${kind}`;
}

/** Fields that do not exist in the API type (kubectl's strict field validation). */
async function unknownFields(object: object): Promise<string[]> {
  const obj = object as Obj;
  const models = await loadClientModels();
  const type = clientModelName(String(obj.apiVersion), String(obj.kind));
  const out: string[] = [];
  walk(models, type, obj, String(obj.kind), out);
  return out;
}

/** Both validations; empty when the object is valid. */
export async function validateObject(obj: object): Promise<string[]> {
  return [...await schemaErrors(obj), ...await unknownFields(obj)];
}
