/**
 * The local node's certificates and kubeconfigs, made with openssl: one CA, the API server's
 * serving certificate, the service-account key pair, an admin client (`system:masters`, used by
 * the controllers, kube-proxy and the e2e) and the kubelet's node identity
 * (`system:node:NAME` in `system:nodes`, so the Node authorizer and RBAC see a real node).
 *
 * @module
 */
import { join } from "node:path";

/** Paths of what {@linkcode makePki} wrote. */
export interface Pki {
  readonly dir: string;
  readonly ca: string;
  readonly apiserverCert: string;
  readonly apiserverKey: string;
  readonly saKey: string;
  readonly saPub: string;
  readonly adminCert: string;
  readonly adminKey: string;
  /** Kubeconfig of the admin client. */
  readonly adminKubeconfig: string;
  /** Kubeconfig of the kubelet. */
  readonly kubeletKubeconfig: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command("/usr/bin/openssl", { args, cwd, stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`openssl ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

async function clientCert(dir: string, name: string, subj: string, ext = ""): Promise<void> {
  await openssl(["genrsa", "-out", `${name}.key`, "2048"], dir);
  await openssl(["req", "-new", "-key", `${name}.key`, "-subj", subj, "-out", `${name}.csr`], dir);
  const args = [
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "7",
    "-out",
    `${name}.crt`,
  ];
  if (ext) {
    await Deno.writeTextFile(join(dir, `${name}.ext`), ext);
    args.push("-extfile", `${name}.ext`);
  }
  await openssl(args, dir);
}

function kubeconfig(server: string, ca: string, cert: string, key: string): string {
  const b64 = (p: string) => btoa(String.fromCharCode(...Deno.readFileSync(p)));
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{
      name: "local",
      cluster: { server, "certificate-authority-data": b64(ca) },
    }],
    users: [{
      name: "user",
      user: { "client-certificate-data": b64(cert), "client-key-data": b64(key) },
    }],
    contexts: [{ name: "local", context: { cluster: "local", user: "user" } }],
    "current-context": "local",
  });
}

/** Writes the PKI into dir for a node `nodeName` reachable at `nodeIp`. */
export async function makePki(
  dir: string,
  o: { nodeName: string; nodeIp: string; serviceIp: string },
): Promise<Pki> {
  await Deno.mkdir(dir, { recursive: true });
  await openssl(["genrsa", "-out", "ca.key", "2048"], dir);
  await openssl(
    [
      "req",
      "-x509",
      "-new",
      "-key",
      "ca.key",
      "-subj",
      "/CN=tsn-e2e-ca",
      "-days",
      "7",
      "-out",
      "ca.crt",
    ],
    dir,
  );
  const sans = [
    "DNS:kubernetes",
    "DNS:kubernetes.default",
    "DNS:kubernetes.default.svc",
    "DNS:kubernetes.default.svc.cluster.local",
    "DNS:localhost",
    "IP:127.0.0.1",
    `IP:${o.nodeIp}`,
    `IP:${o.serviceIp}`,
  ].join(",");
  await clientCert(
    dir,
    "apiserver",
    "/CN=kube-apiserver",
    `subjectAltName=${sans}\nextendedKeyUsage=serverAuth\n`,
  );
  await clientCert(dir, "admin", "/O=system:masters/CN=tsn-e2e-admin");
  await clientCert(dir, "kubelet", `/O=system:nodes/CN=system:node:${o.nodeName}`);
  await openssl(["genrsa", "-out", "sa.key", "2048"], dir);
  await openssl(["rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"], dir);
  const p = (f: string) => join(dir, f);
  const server = `https://${o.nodeIp}:6443`;
  await Deno.writeTextFile(
    p("admin.kubeconfig"),
    kubeconfig(server, p("ca.crt"), p("admin.crt"), p("admin.key")),
  );
  await Deno.writeTextFile(
    p("kubelet.kubeconfig"),
    kubeconfig(server, p("ca.crt"), p("kubelet.crt"), p("kubelet.key")),
  );
  return {
    dir,
    ca: p("ca.crt"),
    apiserverCert: p("apiserver.crt"),
    apiserverKey: p("apiserver.key"),
    saKey: p("sa.key"),
    saPub: p("sa.pub"),
    adminCert: p("admin.crt"),
    adminKey: p("admin.key"),
    adminKubeconfig: p("admin.kubeconfig"),
    kubeletKubeconfig: p("kubelet.kubeconfig"),
  };
}
