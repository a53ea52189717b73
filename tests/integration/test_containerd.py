"""containerd 1.6 with the ubc runtime wrapper: through ctr (`ctr run --runc-binary
WRAPPER`, no image: `ctr run --rootfs DIR`) and through the CRI plugin (the runtime
handler of examples/kubernetes, an imported OCI image). A private containerd (own root,
state, socket). Non-parallel in meson."""

import os

import cri
from cleanup import add_cleanup, unique_id
from engines import (Containerd, check_supervised, check_unsupervised, install_runtime_wrapper,
                     runtime_settings)
from oci_image import write_image_archive
from outcome import check, check_eq, which
from procs import run
from session import Session

SERIAL = True
BARRIER = 4096
BARRIER_64M = 16384
SOURCE_ROOT = os.environ.get("UBC_SOURCE_ROOT") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))


def test_ctr_runtime_wrapper():
    s = Session("runc")
    wrapper = install_runtime_wrapper(os.path.join(s.workdir, "wrapper"),
                                      runtime_settings(s.ubcd, runtime=which("runc")))
    containerd = Containerd(s.workdir).start()
    c = containerd.run_probe(s.rootfs, wrapper,
                             annotations={"ubc.privvmpages": f"{BARRIER}:{BARRIER}"})
    check_supervised(s, c, BARRIER)
    plain = containerd.run_probe(s.rootfs, wrapper)
    check_unsupervised(s, plain)
    c.stop()
    plain.stop()


def _handler_toml(wrapper):
    """examples/kubernetes/containerd-ubc.toml as a node would use it, with its two
    node-specific values set for this machine: the wrapper's path, and cgroupfs (no
    systemd here) instead of SystemdCgroup."""
    with open(os.path.join(SOURCE_ROOT, "examples/kubernetes/containerd-ubc.toml"),
              encoding="utf-8") as f:
        text = f.read()
    for old, new in (('BinaryName = "/opt/ubc/bin/ubc-runtime"', f'BinaryName = "{wrapper}"'),
                     ("SystemdCgroup = true", "SystemdCgroup = false"),
                     ("version = 2\n", "")):
        check(old in text, f"{old!r} not in the example handler")
        text = text.replace(old, new)
    return text


def _run_pod(runtime, handler):
    """A pod sandbox with the limit as a pod annotation on HANDLER ("" is the default),
    removed at cleanup; returns (sandbox id, its config)."""
    config = cri.pod_sandbox_config(unique_id("pod"), unique_id("uid"), "default",
                                    {"ubc.privvmpages": "64M"})
    sandbox = runtime.run_pod_sandbox(config, handler)

    def remove_pod():
        runtime.stop_pod_sandbox(sandbox)
        runtime.remove_pod_sandbox(sandbox)
    add_cleanup(f"remove pod sandbox {sandbox}", remove_pod)
    return sandbox, config


def test_cri_runtime_handler():
    """The CRI plugin, as the kubelet drives it (tests/integration/cri.py: RunPodSandbox
    with runtime_handler "ubc" and the limit as a pod annotation, CreateContainer,
    StartContainer, ExecSync), with the handler of examples/kubernetes: both the pod's
    sandbox and its container are supervised with the pod's limit (pod_annotations), and
    an allocation past the barrier in the container fails with ENOMEM."""
    s = Session("runc")
    wrapper = install_runtime_wrapper(os.path.join(s.workdir, "wrapper"),
                                      runtime_settings(s.ubcd, runtime=which("runc")))
    image = "ubc.test/probe:1"
    containerd = Containerd(s.workdir, cri_handler_toml=_handler_toml(wrapper),
                            sandbox_image=image).start()
    archive = write_image_archive(s.rootfs, os.path.join(s.workdir, "image.tar"), image,
                                  ["/bin/sleep", "3600"])
    run(containerd.ctr("images", "import", archive), timeout_s=120)
    runtime = cri.RuntimeService(containerd.sock)
    add_cleanup("cri client", runtime.close)
    version = runtime.version()
    check_eq(version["runtime_name"], "containerd", f"CRI runtime ({version})")
    sandbox, sandbox_config = _run_pod(runtime, "ubc")
    container = runtime.create_container(
        sandbox, cri.container_config("probe", image, ["/bin/sleep", "3600"]), sandbox_config)
    runtime.start_container(container)
    for cid in (sandbox, container):
        entry = s.ubcd.wait_container(cid)
        check_eq(entry["privvmpages"]["barrier"], BARRIER_64M, f"barrier of {cid}")
        check_eq(entry["limits_source"], "annotation", f"where the limit of {cid} came from")
    out, err, code = runtime.exec_sync(container, ["/bin/ubc-probe", "mmap 60M", "mmap 8M"])
    lines = out.splitlines()
    check(code == 0 and len(lines) == 2 and lines[0].startswith("ok ")
          and lines[1] == "err ENOMEM",
          f"ExecSync ubc-probe: exit {code}, stdout {out!r}, stderr {err!r}")
    check_eq(s.ubcd.privvm(container)["failcnt"], 1, "failcnt of the container")
    check_eq(s.ubcd.privvm(sandbox)["failcnt"], 0, "failcnt of the sandbox")
    # The same pod on the default handler (plain runc) is not supervised: the runtime
    # hands a supervised container's notify fd to ubcd before RunPodSandbox returns.
    plain, _ = _run_pod(runtime, "")
    check(s.ubcd.container(plain) is None, f"a pod on the default handler is supervised: {plain}")
