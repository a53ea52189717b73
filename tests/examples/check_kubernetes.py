"""Checks examples/kubernetes/ without a cluster (none is reachable here).

What is checked, and with what:
- every YAML document parses (python3-yaml) and has the shape of its Kubernetes kind:
  the apiVersion that serves it, metadata.name, and only fields the API defines for the
  parts of Pod, DaemonSet, RuntimeClass, ConfigMap and Namespace the examples use (a
  table below, from the Kubernetes API reference; a typo'd field fails);
- the configs in the ConfigMap against ubc's own schemas (validate_json);
- containerd's handler file with containerd's own parser (`containerd config dump`);
- the alert rule with promtool; the scrape config for shape only (Debian's Prometheus is
  built without Kubernetes discovery, so promtool refuses kubernetes_sd_configs);
- that the pieces agree: the RuntimeClass's handler is the toml's, the pod names the
  RuntimeClass, the pod's ubc.* annotations are passed by the handler's pod_annotations,
  the wrapper the handler runs is where the init container installs it, the wrapper and
  ubcd agree on the socket, ubcd's capabilities are those docs/operations.md names.

Usage: check_kubernetes.py SOURCE_ROOT VALIDATE_JSON
"""

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib

import yaml

ROOT = sys.argv[1]
VALIDATE_JSON = sys.argv[2]
DIR = os.path.join(ROOT, "examples", "kubernetes")
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg)


def check(cond, msg):
    if not cond:
        fail(msg)


# Fields the Kubernetes API defines (core/v1, apps/v1, node.k8s.io/v1), for the objects the
# examples use. Not every field of the API: a field missing here fails the check and is
# then added from the API reference.
API_VERSION = {"Namespace": "v1", "ConfigMap": "v1", "Pod": "v1", "DaemonSet": "apps/v1",
               "RuntimeClass": "node.k8s.io/v1"}
OBJECT_KEYS = {"Namespace": {"apiVersion", "kind", "metadata", "spec"},
               "ConfigMap": {"apiVersion", "kind", "metadata", "data", "binaryData", "immutable"},
               "Pod": {"apiVersion", "kind", "metadata", "spec"},
               "DaemonSet": {"apiVersion", "kind", "metadata", "spec"},
               "RuntimeClass": {"apiVersion", "kind", "metadata", "handler", "overhead",
                                "scheduling"}}
METADATA = {"name", "namespace", "labels", "annotations", "generateName"}
DAEMONSET_SPEC = {"selector", "template", "updateStrategy", "minReadySeconds",
                  "revisionHistoryLimit"}
POD_SPEC = {"containers", "initContainers", "volumes", "hostPID", "hostNetwork", "hostIPC",
            "nodeSelector", "tolerations", "priorityClassName", "restartPolicy",
            "runtimeClassName", "serviceAccountName", "terminationGracePeriodSeconds",
            "securityContext", "affinity", "dnsPolicy"}
CONTAINER = {"name", "image", "command", "args", "env", "securityContext", "volumeMounts",
             "resources", "readinessProbe", "livenessProbe", "ports", "imagePullPolicy",
             "workingDir"}
SECURITY_CONTEXT = {"runAsUser", "runAsGroup", "runAsNonRoot", "capabilities", "privileged",
                    "allowPrivilegeEscalation", "readOnlyRootFilesystem", "seccompProfile",
                    "appArmorProfile", "seLinuxOptions", "procMount"}
VOLUME_MOUNT = {"name", "mountPath", "subPath", "readOnly", "mountPropagation"}
VOLUME_SOURCES = {"hostPath", "configMap", "emptyDir", "secret"}
HOST_PATH_TYPES = {"", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket",
                   "CharDevice", "BlockDevice"}
PROPAGATION = {"None", "HostToContainer", "Bidirectional"}
CAPABILITIES = {"AUDIT_CONTROL", "AUDIT_READ", "AUDIT_WRITE", "BLOCK_SUSPEND", "BPF",
                "CHECKPOINT_RESTORE", "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER",
                "FSETID", "IPC_LOCK", "IPC_OWNER", "KILL", "LEASE", "LINUX_IMMUTABLE",
                "MAC_ADMIN", "MAC_OVERRIDE", "MKNOD", "NET_ADMIN", "NET_BIND_SERVICE",
                "NET_BROADCAST", "NET_RAW", "PERFMON", "SETFCAP", "SETGID", "SETPCAP",
                "SETUID", "SYSLOG", "SYS_ADMIN", "SYS_BOOT", "SYS_CHROOT", "SYS_MODULE",
                "SYS_NICE", "SYS_PACCT", "SYS_PTRACE", "SYS_RAWIO", "SYS_RESOURCE",
                "SYS_TIME", "SYS_TTY_CONFIG", "WAKE_ALARM", "ALL"}
# What ubcd holds before its drop (docs/operations.md, "Privileges").
UBCD_CAPABILITIES = {"SYS_PTRACE", "KILL", "SYS_ADMIN", "NET_ADMIN", "SETUID", "SETGID",
                     "SETPCAP", "DAC_OVERRIDE"}
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def extra(obj, allowed, where):
    if not isinstance(obj, dict):
        fail(f"{where}: not a mapping")
        return
    unknown = set(obj) - allowed
    check(not unknown, f"{where}: fields the API does not define: {sorted(unknown)}")


def check_metadata(meta, where, namespaced):
    extra(meta, METADATA, f"{where}.metadata")
    check(DNS_SUBDOMAIN.match(str(meta.get("name", ""))) is not None,
          f"{where}: metadata.name {meta.get('name')!r} is not a DNS subdomain")
    for k in ("labels", "annotations"):
        for key, value in (meta.get(k) or {}).items():
            check(isinstance(value, str), f"{where}: {k}[{key}] is not a string: {value!r}")
    if namespaced is False:
        check("namespace" not in meta, f"{where}: a cluster-scoped object has a namespace")


def check_container(c, volumes, where):
    extra(c, CONTAINER, where)
    check(DNS_LABEL.match(c.get("name", "")) is not None, f"{where}: bad name")
    check(isinstance(c.get("image"), str) and c["image"], f"{where}: no image")
    for k in ("command", "args"):
        if k in c:
            check(all(isinstance(a, str) for a in c[k]), f"{where}.{k}: not all strings")
    sc = c.get("securityContext") or {}
    extra(sc, SECURITY_CONTEXT, f"{where}.securityContext")
    caps = sc.get("capabilities") or {}
    extra(caps, {"add", "drop"}, f"{where}.securityContext.capabilities")
    for k in ("add", "drop"):
        for cap in caps.get(k, []):
            check(cap in CAPABILITIES, f"{where}: {cap!r} is no capability name")
    for m in c.get("volumeMounts", []):
        extra(m, VOLUME_MOUNT, f"{where}.volumeMounts")
        check(m.get("name") in volumes, f"{where}: mounts undeclared volume {m.get('name')}")
        check(m.get("mountPropagation", "None") in PROPAGATION,
              f"{where}: mountPropagation {m.get('mountPropagation')!r}")
        if m.get("mountPropagation") == "Bidirectional":
            check(sc.get("privileged") is True,
                  f"{where}: Bidirectional propagation is only allowed privileged")
    if "readinessProbe" in c:
        probe = c["readinessProbe"]
        check("httpGet" in probe or "exec" in probe or "tcpSocket" in probe,
              f"{where}: a probe with no handler")


def check_pod_spec(spec, where):
    extra(spec, POD_SPEC, f"{where}")
    volumes = {}
    for v in spec.get("volumes", []):
        sources = set(v) - {"name"}
        check(len(sources) == 1 and sources <= VOLUME_SOURCES,
              f"{where}: volume {v.get('name')} has sources {sorted(sources)}")
        if "hostPath" in v:
            extra(v["hostPath"], {"path", "type"}, f"{where}.volumes.{v['name']}.hostPath")
            check(v["hostPath"].get("type", "") in HOST_PATH_TYPES,
                  f"{where}: hostPath type {v['hostPath'].get('type')!r}")
        volumes[v.get("name")] = v
    check(spec.get("containers"), f"{where}: no containers")
    for kind in ("initContainers", "containers"):
        names = [c.get("name") for c in spec.get(kind, [])]
        check(len(names) == len(set(names)), f"{where}.{kind}: duplicate names")
        for c in spec.get(kind, []):
            check_container(c, volumes, f"{where}.{kind}.{c.get('name')}")
    check(spec.get("restartPolicy", "Always") in {"Always", "OnFailure", "Never"},
          f"{where}: restartPolicy")
    return volumes


def load_all():
    objects = {}
    for name in sorted(os.listdir(DIR)):
        if not name.endswith(".yaml") or name.startswith("prometheus") or ".rules." in name:
            continue
        with open(os.path.join(DIR, name), encoding="utf-8") as f:
            docs = [d for d in yaml.safe_load_all(f) if d is not None]
        check(docs, f"{name}: no documents")
        for d in docs:
            kind = d.get("kind")
            where = f"{name}:{kind}/{(d.get('metadata') or {}).get('name')}"
            check(kind in API_VERSION, f"{where}: kind not in the table")
            if kind not in API_VERSION:
                continue
            check(d.get("apiVersion") == API_VERSION[kind],
                  f"{where}: apiVersion {d.get('apiVersion')!r}, the API serves "
                  f"{API_VERSION[kind]!r}")
            extra(d, OBJECT_KEYS[kind], where)
            check_metadata(d.get("metadata") or {}, where,
                           None if kind in ("Pod", "DaemonSet", "ConfigMap") else False)
            objects.setdefault(kind, []).append((where, d))
    return objects


def validate(schema, text, where):
    r = subprocess.run([VALIDATE_JSON, schema], input=text, text=True, capture_output=True)
    check(r.returncode == 0, f"{where}: not valid against {schema}: {r.stdout}{r.stderr}")


def main():
    objects = load_all()
    (ds_where, ds), = objects["DaemonSet"]
    (rc_where, rc), = objects["RuntimeClass"]
    (pod_where, pod), = objects["Pod"]
    (cm_where, cm), = objects["ConfigMap"]

    # DaemonSet
    spec = ds["spec"]
    extra(spec, DAEMONSET_SPEC, f"{ds_where}.spec")
    labels = spec["template"]["metadata"]["labels"]
    for k, v in spec["selector"]["matchLabels"].items():
        check(labels.get(k) == v, f"{ds_where}: the selector does not match the template")
    check(spec.get("updateStrategy", {}).get("type") in {"RollingUpdate", "OnDelete"},
          f"{ds_where}: updateStrategy")
    pspec = spec["template"]["spec"]
    volumes = check_pod_spec(pspec, f"{ds_where}.spec.template.spec")
    check(pspec.get("hostPID") is True, f"{ds_where}: ubcd needs the host's pid namespace")
    containers = {c["name"]: c for c in pspec["containers"]}
    ubcd = containers.get("ubcd")
    check(ubcd is not None, f"{ds_where}: no ubcd container")
    sc = ubcd["securityContext"]
    check(sc.get("privileged") is not True, f"{ds_where}: ubcd runs privileged")
    check(sc["capabilities"].get("drop") == ["ALL"], f"{ds_where}: ubcd keeps default caps")
    check(set(sc["capabilities"].get("add", [])) == UBCD_CAPABILITIES,
          f"{ds_where}: ubcd's capabilities {sc['capabilities'].get('add')} are not "
          f"{sorted(UBCD_CAPABILITIES)}")
    check("fd-store" in containers and "--fd-store" in containers["fd-store"]["command"],
          f"{ds_where}: no fd store container")

    # ConfigMap: ubc's configs, valid and agreeing
    ubcd_json, runtime_json = cm["data"]["ubcd.json"], cm["data"]["ubc-runtime.json"]
    validate("ubcd-config.schema.json", ubcd_json, f"{cm_where} ubcd.json")
    validate("hook-settings.schema.json", runtime_json, f"{cm_where} ubc-runtime.json")
    ubcd_cfg, runtime_cfg = json.loads(ubcd_json), json.loads(runtime_json)
    check(runtime_cfg["listener_path"] == ubcd_cfg["listener_path"],
          f"{cm_where}: the wrapper and ubcd name different sockets")
    check(runtime_cfg["containers_dir"] == ubcd_cfg["containers_dir"],
          f"{cm_where}: the wrapper and ubcd read different containers.d")
    containers_d = next(m for m in ubcd["volumeMounts"] if m["name"] == "containers-d")
    check(containers_d["mountPath"] == ubcd_cfg["containers_dir"] and
          volumes["containers-d"]["hostPath"]["path"] == ubcd_cfg["containers_dir"],
          f"{ds_where}: ubcd's containers.d is not the node's, which the wrapper reads")
    run_mount = next(m for m in ubcd["volumeMounts"] if m["name"] == "run-ubc")
    check(volumes["run-ubc"]["hostPath"]["path"] == run_mount["mountPath"] and
          os.path.dirname(ubcd_cfg["listener_path"]) == run_mount["mountPath"],
          f"{ds_where}: the socket is not on the node's path the runtime sees")
    port = ubcd_cfg["rest"]["port"]
    check(ubcd["readinessProbe"]["httpGet"]["port"] == port, f"{ds_where}: probe port")
    check(ubcd["readinessProbe"]["httpGet"]["path"] == "/healthz", f"{ds_where}: probe path")

    # containerd's handler: containerd's own parser, then agreement
    toml_path = os.path.join(DIR, "containerd-ubc.toml")
    with open(toml_path, "rb") as f:
        toml = tomllib.load(f)
    runtimes = toml["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]
    containerd = shutil.which("containerd")
    check(containerd is not None, "containerd is not installed (scripts/setup.sh installs it)")
    if containerd:
        with tempfile.TemporaryDirectory(prefix="ubc-k8s-") as tmp:
            r = subprocess.run([containerd, "--config", toml_path, "--root", tmp + "/root",
                                "--state", tmp + "/state", "config", "dump"],
                               capture_output=True, text=True)
        check(r.returncode == 0, f"containerd refused containerd-ubc.toml: {r.stderr}")
        check('pod_annotations = ["ubc.*"]' in r.stdout,
              "containerd's dump lost the handler's pod_annotations")
        check("BinaryName = \"/opt/ubc/bin/ubc-runtime\"" in r.stdout,
              "containerd's dump lost the handler's BinaryName")
    check(rc["handler"] in runtimes, f"{rc_where}: handler {rc['handler']} not in the toml")
    check(DNS_LABEL.match(rc["handler"]) is not None, f"{rc_where}: handler is no DNS label")
    handler = runtimes.get(rc["handler"], {})
    binary = handler.get("options", {}).get("BinaryName", "")
    check(volumes["node-bin"]["hostPath"]["path"] == os.path.dirname(binary),
          f"{ds_where}: the init container installs the wrapper elsewhere than {binary}")
    install = " ".join(pspec["initContainers"][0]["command"])
    check(f"ln -sf ubc-hook {binary}" in install and
          f"{os.path.dirname(binary)}/ubc-runtime.json" in install and
          f"/config/ubcd.json {runtime_cfg['ubcd_config']}" in install,
          f"{ds_where}: the init container does not install {binary}, its settings and "
          f"the ubcd config they name")
    check(rc["scheduling"]["nodeSelector"].items() <= pspec["nodeSelector"].items(),
          f"{rc_where}: pods of the class may land on nodes without ubcd")

    # The pod
    check_pod_spec(pod["spec"], pod_where)
    check(pod["spec"].get("runtimeClassName") == rc["metadata"]["name"],
          f"{pod_where}: does not use the RuntimeClass")
    ubc_annotations = [k for k in pod["metadata"]["annotations"] if k.startswith("ubc.")]
    check(ubc_annotations, f"{pod_where}: no ubc annotation")
    for key in ubc_annotations:
        check(any(fnmatch.fnmatchcase(key, p) for p in handler.get("pod_annotations", [])),
              f"{pod_where}: {key} is not passed by the handler's pod_annotations")

    # Prometheus: the rule with promtool, the scrape config's shape
    promtool = shutil.which("promtool")
    check(promtool is not None, "promtool is not installed (scripts/setup.sh installs it)")
    rules = os.path.join(DIR, "ubc-alerts.rules.yaml")
    if promtool:
        r = subprocess.run([promtool, "check", "rules", rules], capture_output=True, text=True)
        check(r.returncode == 0, f"promtool check rules: {r.stdout}{r.stderr}")
    with open(rules, encoding="utf-8") as f:
        expr = yaml.safe_load(f)["groups"][0]["rules"][0]["expr"]
    with open(os.path.join(ROOT, "core", "prometheus_text.cc"), encoding="utf-8") as f:
        exported = set(re.findall(r'"(ubc_[a-z_]+)"', f.read()))
    for metric in re.findall(r"\bubc_[a-z_]+\b", expr):
        check(metric in exported, f"alert rule: ubcd exports no metric {metric}")
    with open(os.path.join(DIR, "prometheus.yaml"), encoding="utf-8") as f:
        scrape = yaml.safe_load(f)["scrape_configs"][0]
    check(scrape["kubernetes_sd_configs"][0]["role"] == "pod", "scrape: pod discovery")
    check(scrape["kubernetes_sd_configs"][0]["namespaces"]["names"] ==
          [ds["metadata"]["namespace"]], "scrape: not the DaemonSet's namespace")
    for rule in scrape["relabel_configs"]:
        check(rule.get("action", "replace") in {"keep", "drop", "replace"}, "relabel action")
        re.compile(rule.get("regex", "(.*)"))
    check(any(r.get("replacement") == f"$1:{port}" for r in scrape["relabel_configs"]),
          f"scrape: not ubcd's port {port}")

    if failures:
        print(f"{len(failures)} problem(s) in examples/kubernetes")
        return 1
    print("examples/kubernetes: shapes, schemas, containerd, promtool and agreement checked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
