"""A minimal CRI client (runtime.v1 RuntimeService over gRPC), as the kubelet would call
containerd's CRI plugin: enough to run a pod sandbox on a runtime handler, create, start
and ExecSync a container, and tear it down. Debian 12 has no crictl; this speaks the
protocol with Debian's python3-grpcio and a hand-written protobuf encoding of the few
messages used (field numbers from the CRI API, k8s.io/cri-api runtime/v1 api.proto).

What it owns: nothing but a gRPC channel to one containerd socket. grpc is imported when
a RuntimeService is made, so that importing this module (run.py --list imports every test
module) needs no python3-grpcio.
"""

NAMESPACE_NODE = 2  # NamespaceMode NODE: the host's network namespace, so no CNI is needed


def _varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number, value):
    """One field: an int as a varint, str/bytes/an encoded message length-delimited."""
    if isinstance(value, bool) or isinstance(value, int):
        return _varint(number << 3) + _varint(int(value))
    data = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def message(*fields):
    """(number, value) pairs; a list value repeats the field, a dict is a map<string,
    string>, None is left out."""
    out = b""
    for number, value in fields:
        if value is None:
            continue
        if isinstance(value, dict):
            for k, v in value.items():
                out += _field(number, message((1, k), (2, v)))
        elif isinstance(value, list):
            for item in value:
                out += _field(number, item)
        else:
            out += _field(number, value)
    return out


def decode(data):
    """number -> [values]: ints for varints, bytes for length-delimited fields."""
    fields, i = {}, 0
    while i < len(data):
        key, i = _read_varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _read_varint(data, i)
        elif wire == 2:
            length, i = _read_varint(data, i)
            value, i = data[i:i + length], i + length
        elif wire == 5:
            value, i = data[i:i + 4], i + 4
        elif wire == 1:
            value, i = data[i:i + 8], i + 8
        else:
            raise ValueError(f"protobuf wire type {wire} in a CRI response")
        fields.setdefault(number, []).append(value)
    return fields


def _read_varint(data, i):
    shift = result = 0
    while True:
        byte = data[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, i
        shift += 7


def pod_sandbox_config(name, uid, namespace, annotations):
    """PodSandboxConfig: metadata, annotations, and the node's network namespace."""
    namespace_options = message((1, NAMESPACE_NODE))
    security_context = message((1, namespace_options))
    linux = message((2, security_context))
    metadata = message((1, name), (2, uid), (3, namespace), (4, 0))
    return message((1, metadata), (2, ""), (7, annotations), (8, linux))


def container_config(name, image, command, annotations=None):
    return message((1, message((1, name), (2, 0))), (2, message((1, image))),
                   (3, list(command)), (10, annotations or {}))


class RuntimeService:
    def __init__(self, socket_path):
        import grpc  # noqa: PLC0415 - see the module's docstring
        self.channel = grpc.insecure_channel(f"unix://{socket_path}")

    def close(self):
        self.channel.close()

    def _call(self, method, request, timeout_s=60):
        stub = self.channel.unary_unary(f"/runtime.v1.RuntimeService/{method}")
        return decode(stub(request, timeout=timeout_s))

    def version(self):
        reply = self._call("Version", message((1, "v1")))
        return {k: reply.get(n, [b""])[0].decode() for k, n in
                (("runtime_name", 2), ("runtime_version", 3), ("runtime_api_version", 4))}

    def run_pod_sandbox(self, config, runtime_handler):
        return self._call("RunPodSandbox", message((1, config), (2, runtime_handler)),
                          timeout_s=120)[1][0].decode()

    def stop_pod_sandbox(self, sandbox_id):
        self._call("StopPodSandbox", message((1, sandbox_id)))

    def remove_pod_sandbox(self, sandbox_id):
        self._call("RemovePodSandbox", message((1, sandbox_id)))

    def create_container(self, sandbox_id, config, sandbox_config):
        return self._call("CreateContainer", message((1, sandbox_id), (2, config),
                                                     (3, sandbox_config)))[1][0].decode()

    def start_container(self, container_id):
        self._call("StartContainer", message((1, container_id)))

    def exec_sync(self, container_id, cmd, timeout_s=30):
        """(stdout, stderr, exit code) of CMD run in the container."""
        reply = self._call("ExecSync", message((1, container_id), (2, list(cmd)),
                                               (3, timeout_s)), timeout_s=timeout_s + 30)
        return (reply.get(1, [b""])[0].decode(errors="replace"),
                reply.get(2, [b""])[0].decode(errors="replace"), reply.get(3, [0])[0])
