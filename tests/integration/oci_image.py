"""An OCI image archive of a rootfs directory, for engines that run images only (the CRI
plugin) on a machine that reaches no registry: one uncompressed layer, a config with the
given command, a manifest, and an index naming the image, as `ctr images import` reads.

Python 3.11 standard library only.
"""

import hashlib
import io
import json
import tarfile


def _blob(tar, data):
    digest = hashlib.sha256(data).hexdigest()
    info = tarfile.TarInfo(f"blobs/sha256/{digest}")
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))
    return f"sha256:{digest}", len(data)


def _add_json(tar, name, obj):
    data = json.dumps(obj).encode()
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def write_image_archive(rootfs, path, name, cmd):
    """Writes PATH: the OCI image NAME (e.g. "ubc.test/probe:1") of ROOTFS running CMD."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as t:
        t.add(rootfs, arcname=".")
    with tarfile.open(path, "w") as tar:
        layer_digest, layer_size = _blob(tar, layer.getvalue())
        config = {"architecture": "amd64", "os": "linux",
                  "config": {"Cmd": list(cmd), "WorkingDir": "/"},
                  "rootfs": {"type": "layers", "diff_ids": [layer_digest]}}
        config_digest, config_size = _blob(tar, json.dumps(config).encode())
        manifest = {"schemaVersion": 2,
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                               "digest": config_digest, "size": config_size},
                    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                "digest": layer_digest, "size": layer_size}]}
        manifest_digest, manifest_size = _blob(tar, json.dumps(manifest).encode())
        _add_json(tar, "oci-layout", {"imageLayoutVersion": "1.0.0"})
        _add_json(tar, "index.json", {
            "schemaVersion": 2,
            "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "digest": manifest_digest, "size": manifest_size,
                           "platform": {"architecture": "amd64", "os": "linux"},
                           "annotations": {"io.containerd.image.name": name,
                                           "org.opencontainers.image.ref.name":
                                               name.rsplit(":", 1)[-1]}}]})
    return path
