"""ubcd's REST API and ubcctl against a real ubcd with real runc containers: every
endpoint over real HTTP (urllib and curl), each response checked against its schema in
schemas/ (tests/tools/validate_json, the validator the binaries ship), the UBC text parsed
back, a live PATCH that makes the next allocation fail, the bearer token, promtool on
/metrics, garbage bodies and methods, and a slow client that must not hold up decisions.
Each ubcd gets its own port and token file (ubcd.Ubcd)."""

import json
import os
import signal
import socket
import stat
import subprocess
import time
import urllib.error
import urllib.request

from cleanup import make_temp_dir
from outcome import check, check_eq, require_built, require_root, require_tool, wait_until
from probe import pages
from procs import free_port, run
from session import Session
from ubcd import Ubcd
from vzformat import parse_ubc_table

LONG_MAX = 9223372036854775807


# ---------------------------------------------------------------------------
# helpers


def http(method, url, body=None, token=None, headers=None, timeout_s=10):
    """One request; returns (status, headers dict with lowercase names, body text)."""
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, method=method)
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, \
                resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read().decode()


def validate(schema, text):
    """Validates a response body against schemas/<schema> with the shipped validator."""
    res = run([require_built("UBC_VALIDATE_JSON"), schema], check_rc=False, input=text,
              timeout_s=20)
    check(res.returncode == 0, f"response does not match {schema}: {res.stderr}\n{text}")
    return json.loads(text)


def get_json(ubcd, path, schema, status=200):
    code, headers, body = http("GET", ubcd.rest_url + path)
    check_eq(code, status, f"status of GET {path} ({body})")
    check(headers.get("content-type", "").startswith("application/json"),
          f"content type of GET {path}: {headers.get('content-type')}")
    return validate(schema, body)


def expect_error(ubcd, method, path, status, body=None, token=None, contains=None,
                 headers=None):
    code, hdrs, text = http(method, ubcd.rest_url + path, body, token, headers)
    check_eq(code, status, f"status of {method} {path} ({text})")
    doc = validate("rest-error.schema.json", text)
    if contains is not None:
        check(contains in doc["error"], f"error of {method} {path} lacks {contains!r}: {doc}")
    return hdrs, doc


def token_of(ubcd):
    with open(ubcd.token_path, encoding="utf-8") as f:
        return f.read().strip()


def wait_rest(ubcd):
    def up():
        try:
            return http("GET", ubcd.rest_url + "/healthz", timeout_s=2)[0] == 200
        except OSError:
            return False
    wait_until(up, timeout_s=10, what=f"REST API at {ubcd.rest_url}")


def session():
    s = Session("runc")
    wait_rest(s.ubcd)
    return s


def privvm(ubcd, cid):
    return get_json(ubcd, f"/v1/containers/{cid}",
                    "rest-container.schema.json")["beancounters"]["privvmpages"]


def ubcctl(ubcd, *args, check_rc=True, token_file=None):
    argv = [require_built("UBCCTL"), "--url", ubcd.rest_url]
    if token_file is not False:
        argv += ["--token-file", token_file or ubcd.token_path]
    return run(argv + list(args), check_rc=check_rc, timeout_s=30)


# ---------------------------------------------------------------------------
# reads


def test_healthz_and_container_list():
    s = session()
    c = s.supervised("16M:20M")
    code, headers, body = http("GET", s.ubcd.rest_url + "/healthz")
    check_eq((code, body), (200, "ok\n"), "GET /healthz")
    doc = get_json(s.ubcd, "/v1/containers", "rest-containers.schema.json")
    entry = next((e for e in doc["containers"] if e["id"] == c.id), None)
    check(entry is not None, f"{c.id} not listed: {doc}")
    check_eq(entry["state"], "running", "state")
    check(entry["processes"] >= 1, f"processes: {entry}")
    check_eq(entry["notify_fds"], 1, "notify fds")
    p = entry["beancounters"]["privvmpages"]
    check_eq((p["barrier"]["pages"], p["limit"]["pages"]), (4096, 5120), "barrier, limit pages")
    check_eq((p["barrier"]["bytes"], p["limit"]["bytes"]), (16 << 20, 20 << 20),
             "barrier, limit bytes")
    check_eq(p["held"]["bytes"], p["held"]["pages"] * 4096, "held bytes")
    check(p["held"]["pages"] > 0, f"held: {p}")
    c.stop()
    retired = wait_until(
        lambda: next((e for e in get_json(s.ubcd, "/v1/containers", "rest-containers.schema.json")
                      ["containers"] if e["id"] == c.id and e["state"] == "retired"), None),
        timeout_s=15, what="retired container listed")
    check_eq(retired["notify_fds"], 0, "notify fds after retirement")


def test_container_detail_and_limit_sources():
    s = session()
    c = s.supervised("4096:8192", profile="openvz")
    doc = get_json(s.ubcd, f"/v1/containers/{c.id}", "rest-container.schema.json")
    p = doc["beancounters"]["privvmpages"]
    check_eq((p["source"], p["source_detail"]), ("annotation", "ubc.privvmpages"),
             "privvmpages source")
    check_eq((doc["profile"], doc["profile_source"]), ("openvz", "annotation"), "profile")
    check_eq(p["maxheld"]["pages"] >= p["held"]["pages"], True, "maxheld >= held")
    check_eq(p["failcnt"], 0, "failcnt")
    # Only the profile annotated: privvmpages from ubcd's default...
    dflt = s.supervised(None, profile="bc2006")
    pd = privvm(s.ubcd, dflt.id)
    check_eq((pd["source"], pd["source_detail"], pd["barrier"]["pages"]),
             ("default", "default", 65536), "default source")
    # ...or from a containers.d file once one matches.
    path = os.path.join(s.ubcd.containers_dir, "10-all.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"match": {"ids": ["ubct-*"]}, "privvmpages": "2048:3072"}, f)
    run(["kill", "-HUP", str(s.ubcd.proc.pid)])
    wait_until(lambda: "reloaded" in s.ubcd.log(), timeout_s=5, what="containers.d reload")
    filed = s.supervised(None, profile="bc2006")
    pf = privvm(s.ubcd, filed.id)
    check_eq((pf["source"], pf["source_detail"], pf["barrier"]["pages"], pf["limit"]["pages"]),
             ("config-file", path, 2048, 3072), "config-file source")
    for x in (c, dflt, filed):
        x.stop()


def test_user_beancounters_text_matches_status():
    s = session()
    c = s.supervised("16M:20M")
    data = c.probe.statm()
    c.probe.err(f"mmap {pages(4096 - data + 1)}")
    code, headers, text = http("GET", s.ubcd.rest_url + "/v1/user_beancounters")
    check_eq(code, 200, "status")
    check(headers.get("content-type", "").startswith("text/plain"),
          f"content type {headers.get('content-type')}")
    table = parse_ubc_table(text)
    check(c.id in table, f"{c.id} not in:\n{text}")
    row = table[c.id]["privvmpages"]
    check_eq(row[2:], [4096, 5120, 1], "barrier, limit, failcnt")
    check_eq(len(table[c.id]), 21, "distinct resource rows (24 with 4 dummies)")
    check_eq(table[c.id]["kmemsize"][2], LONG_MAX, "untracked resource is unlimited")
    status = parse_ubc_table(s.ubcd.status_text())
    check_eq(status[c.id]["privvmpages"][2:], row[2:], "same as ubcd --status")
    c.stop()


def test_events_record_refusals():
    s = session()
    c = s.supervised("16M:20M")
    empty = get_json(s.ubcd, f"/v1/containers/{c.id}/events", "rest-events.schema.json")
    check_eq(empty, {"id": c.id, "events": []}, "no refusals yet")
    data = c.probe.statm()
    want = 4096 - data + 1
    c.probe.err(f"mmap {pages(want)}")
    doc = get_json(s.ubcd, f"/v1/containers/{c.id}/events", "rest-events.schema.json")
    check_eq(len(doc["events"]), 1, f"one refusal: {doc}")
    e = doc["events"][0]
    check_eq((e["syscall"], e["returned"], e["errno"], e["checked"], e["bound_pages"]),
             ("mmap", "ENOMEM", 12, "barrier", 4096), "event")
    check_eq(e["comm"], "ubc-probe", "comm")
    check(e["pid"] > 0, f"pid {e}")
    check(e["requested_pages"] >= want, f"requested pages {e} (asked {want})")
    check(e["held_pages"] + e["requested_pages"] > 4096, f"held + requested over barrier: {e}")
    check(abs(e["time_unix_ns"] / 1e9 - time.time()) < 60, f"time {e}")
    c.stop()


def test_metrics_pass_promtool():
    promtool = require_tool("promtool")
    s = session()
    c = s.supervised("16M:20M")
    data = c.probe.statm()
    c.probe.err(f"mmap {pages(4096 - data + 1)}")
    code, headers, text = http("GET", s.ubcd.rest_url + "/metrics")
    check_eq(code, 200, "status")
    check(headers.get("content-type", "").startswith("text/plain; version=0.0.4"),
          f"content type {headers.get('content-type')}")
    res = run([promtool, "check", "metrics"], check_rc=False, input=text, timeout_s=30)
    check(res.returncode == 0, f"promtool check metrics failed:\n{res.stdout}{res.stderr}\n{text}")
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    labels = f'{{container="{c.id}",resource="privvmpages"}}'
    check_eq(samples.get("ubc_beancounter_failcnt_total" + labels), 1.0, "failcnt sample")
    check_eq(samples.get("ubc_beancounter_barrier_pages" + labels), 4096.0, "barrier sample")
    check_eq(samples.get(f'ubc_container_notify_fds{{container="{c.id}"}}'), 1.0, "notify fds")
    check(samples.get('ubc_containers{state="running"}', 0) >= 1, "running containers")
    check(samples.get('ubc_decisions_total{syscall="mmap",verdict="refused"}', 0) >= 1,
          "refused mmap decisions")
    count = samples["ubc_decision_latency_seconds_count"]
    check(count >= 1, "latency observations")
    check_eq(samples['ubc_decision_latency_seconds_bucket{le="+Inf"}'], count, "+Inf == _count")
    c.stop()


# ---------------------------------------------------------------------------
# changes


def test_patch_lowers_barrier_next_allocation_fails():
    s = session()
    c = s.supervised("64M:80M")
    c.probe.ok(f"mmap {pages(1000)}")  # fits the annotated barrier
    held = privvm(s.ubcd, c.id)["held"]["pages"]
    barrier, limit = held + 200, held + 300
    code, _, body = http("PATCH", f"{s.ubcd.rest_url}/v1/containers/{c.id}",
                         json.dumps({"privvmpages": f"{barrier}:{limit}"}), token_of(s.ubcd))
    check_eq(code, 200, f"PATCH status ({body})")
    doc = validate("rest-container.schema.json", body)
    p = doc["beancounters"]["privvmpages"]
    check_eq((p["barrier"]["pages"], p["limit"]["pages"], p["source"]), (barrier, limit, "api"),
             "PATCH response")
    c.probe.err(f"mmap {pages(1000)}")   # the next decision sees the new barrier
    c.probe.ok(f"mmap {pages(50)}")      # and what fits still does
    after = privvm(s.ubcd, c.id)
    check_eq((after["failcnt"], after["barrier"]["pages"]), (1, barrier), "after the refusal")
    events = get_json(s.ubcd, f"/v1/containers/{c.id}/events", "rest-events.schema.json")
    check_eq(events["events"][-1]["bound_pages"], barrier, "event names the new barrier")
    check(any("through the API" in ln for ln in s.ubcd.log().splitlines()),
          "ubcd logs the change")
    c.stop()


def test_patch_object_form_and_put():
    s = session()
    c = s.supervised("16M:20M")
    tok = token_of(s.ubcd)
    url = f"{s.ubcd.rest_url}/v1/containers/{c.id}"
    code, _, body = http("PATCH", url, '{"privvmpages": {"barrier": 1024, "limit": "8M"}}', tok)
    check_eq(code, 200, f"PATCH object ({body})")
    p = json.loads(body)["beancounters"]["privvmpages"]
    check_eq((p["barrier"]["pages"], p["limit"]["pages"]), (1024, 2048), "object form")
    code, _, body = http("PUT", url, '{"privvmpages": "32M:unlimited"}', tok)
    check_eq(code, 200, f"PUT ({body})")
    p = validate("rest-container.schema.json", body)["beancounters"]["privvmpages"]
    check_eq((p["barrier"]["pages"], p["limit"]["pages"], p["limit"]["bytes"]),
             (8192, LONG_MAX, None), "PUT whole object, unlimited limit")
    expect_error(s.ubcd, "PUT", f"/v1/containers/{c.id}", 400, "{}", tok, contains="/")
    c.stop()


def test_shmpages_limits_change_live():
    """ubcctl set --shmpages and a REST PATCH of shmpages move the barrier the next shmget
    is decided against; the source becomes api; /metrics carries the shmpages series."""
    s = session()
    c = s.container(privvmpages="16384:16384", annotations={"ubc.shmpages": "1024:1024"})
    s.ubcd.wait_container(c.id)
    c.probe.ok("shmget 1M")  # 256 of 1024 pages
    out = ubcctl(s.ubcd, "set", c.id, "--shmpages", "300:300").stdout
    check(c.id in out, f"set output: {out}")
    c.probe.err("shmget 1M")  # 256 + 256 > 300
    doc = validate("rest-container.schema.json",
                   ubcctl(s.ubcd, "get", c.id, "--json").stdout)
    shm = doc["beancounters"]["shmpages"]
    check_eq((shm["barrier"]["pages"], shm["limit"]["pages"], shm["source"], shm["failcnt"]),
             (300, 300, "api", 1), "shmpages after ubcctl set")
    check_eq(doc["beancounters"]["privvmpages"]["barrier"]["pages"], 16384,
             "privvmpages untouched by a shmpages change")
    code, _, body = http("PATCH", f"{s.ubcd.rest_url}/v1/containers/{c.id}",
                         '{"shmpages": {"barrier": "4M", "limit": 2048}}', token_of(s.ubcd))
    check_eq(code, 200, f"PATCH shmpages ({body})")
    shm = validate("rest-container.schema.json", body)["beancounters"]["shmpages"]
    check_eq((shm["barrier"]["pages"], shm["limit"]["pages"]), (1024, 2048), "PATCH response")
    c.probe.ok("shmget 1M")  # 512 of 1024 now
    code, _, metrics = http("GET", s.ubcd.rest_url + "/metrics")
    check_eq(code, 200, "GET /metrics")
    want = f'ubc_beancounter_barrier_pages{{container="{c.id}",resource="shmpages"}} 1024'
    check(want in metrics.splitlines(), f"no {want!r} in /metrics")
    held = [ln for ln in metrics.splitlines() if ln.startswith(
        f'ubc_beancounter_held_pages{{container="{c.id}",resource="shmpages"}}')]
    check(held and int(held[0].split()[-1]) == 512, f"shmpages held in /metrics: {held}")
    expect_error(s.ubcd, "PATCH", f"/v1/containers/{c.id}", 400, '{"shmpages": "12Q"}',
                 token_of(s.ubcd), contains="12Q")
    c.stop()


def test_numproc_limit_changes_live():
    """A REST PATCH of numproc reaches the container's pids cgroup at once: with numproc 4
    the probe holds 3 children and the 4th fork fails with EAGAIN; PATCHed to 6 two more
    fork; the row in the response is enforced with the new limit and source api, and
    /metrics carries it in tasks."""
    s = session()
    c = s.container(privvmpages="65536:65536", annotations={"ubc.numproc": "4"})
    s.ubcd.wait_container(c.id)
    for _ in range(3):
        c.probe.ok("fork-hold")
    c.probe.err("fork-hold", "EAGAIN")
    code, _, body = http("PATCH", f"{s.ubcd.rest_url}/v1/containers/{c.id}",
                         '{"numproc": 6}', token_of(s.ubcd))
    check_eq(code, 200, f"PATCH numproc ({body})")
    doc = validate("rest-container.schema.json", body)
    row = next(r for r in doc["resources"] if r["resource"] == "numproc")
    check_eq((row["tracking"], row["barrier"], row["limit"]), ("enforced", 6, 6),
             "numproc row in the PATCH response")
    c.probe.ok("fork-hold")
    c.probe.ok("fork-hold")
    c.probe.err("fork-hold", "EAGAIN")
    wait_until(lambda: f'ubc_resource_limit{{container="{c.id}",resource="numproc",'
               f'unit="tasks"}} 6' in http("GET", s.ubcd.rest_url + "/metrics")[2].splitlines(),
               timeout_s=5, what="numproc limit 6 in /metrics")
    expect_error(s.ubcd, "PATCH", f"/v1/containers/{c.id}", 400, '{"numproc": "12M"}',
                 token_of(s.ubcd), contains="12M")
    c.probe.ok("kill-children")
    c.stop()


def test_mutation_needs_the_token():
    s = session()
    c = s.supervised("16M:20M")
    path = f"/v1/containers/{c.id}"
    body = '{"privvmpages": "1:1"}'
    hdrs, _ = expect_error(s.ubcd, "PATCH", path, 401, body, None, contains="Bearer")
    check(hdrs.get("www-authenticate", "").startswith("Bearer"), f"WWW-Authenticate: {hdrs}")
    hdrs, _ = expect_error(s.ubcd, "PATCH", path, 401, body, "not-the-token",
                           contains="wrong bearer token")
    check(hdrs.get("www-authenticate", "").startswith("Bearer"), f"WWW-Authenticate: {hdrs}")
    expect_error(s.ubcd, "PUT", path, 401, body, token_of(s.ubcd) + "x")
    expect_error(s.ubcd, "PATCH", path, 401, body,
                 headers={"Authorization": "Basic " + token_of(s.ubcd)})
    check_eq(privvm(s.ubcd, c.id)["barrier"]["pages"], 4096, "barrier unchanged")
    c.probe.ok(f"mmap {pages(16)}")  # still allowed: nothing was lowered
    # The token file ubcd generated: root-only, 64 hex characters.
    st = os.stat(s.ubcd.token_path)
    check_eq((stat.S_IMODE(st.st_mode), st.st_uid), (0o600, 0), "token file mode and owner")
    tok = token_of(s.ubcd)
    check(len(tok) == 64 and all(ch in "0123456789abcdef" for ch in tok), f"token {tok!r}")
    c.stop()


def test_token_rotated_by_sighup():
    """An operator rotates the token by rewriting the file and sending SIGHUP: the old token
    stops working, the new one works, no restart. A file that is then made unsafe (others
    can read it) is refused and the token in force stays."""
    s = session()
    c = s.supervised("16M:20M")
    path = f"/v1/containers/{c.id}"
    old = token_of(s.ubcd)
    new = "a" * 64
    with open(s.ubcd.token_path, "w", encoding="utf-8") as f:
        f.write(new + "\n")
    s.ubcd.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "reloaded the api token" in s.ubcd.log(), timeout_s=5,
               what="token reload logged")
    expect_error(s.ubcd, "PATCH", path, 401, '{"privvmpages": "8192:8192"}', old,
                 contains="wrong bearer token")
    code, _, text = http("PATCH", s.ubcd.rest_url + path, '{"privvmpages": "8192:8192"}', new)
    check_eq(code, 200, f"PATCH with the new token: {text}")
    check_eq(privvm(s.ubcd, c.id)["barrier"]["pages"], 8192, "barrier after the PATCH")

    os.chmod(s.ubcd.token_path, 0o644)
    s.ubcd.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "api token reload failed, previous token kept" in s.ubcd.log(),
               timeout_s=5, what="refused token file logged")
    code, _, text = http("PATCH", s.ubcd.rest_url + path, '{"privvmpages": "4096:8192"}', new)
    check_eq(code, 200, f"PATCH with the token still in force: {text}")
    check(s.ubcd.alive(), "ubcd still runs")
    c.stop()


def test_errors_with_curl():
    curl = require_tool("curl")
    s = session()
    c = s.supervised("16M:20M")
    tok = token_of(s.ubcd)
    base = s.ubcd.rest_url

    def curl_req(*args):
        res = run([curl, "-sS", "-o", "-", "-w", "\n%{http_code}", *args], timeout_s=30)
        body, _, code = res.stdout.rpartition("\n")
        return int(code), body

    url = f"{base}/v1/containers/{c.id}"
    auth = ["-H", f"Authorization: Bearer {tok}"]
    for garbage in ("garbage", "{", "[]", "{}", '{"privvmpages": "12Q"}',
                    '{"privvmpages": 5}', '{"privvmpages": "2048:1024"}',
                    '{"privvmpages": {"barrier": 1}}', '{"privvmpage": "10"}', b"\x00\xff{"):
        body_path = os.path.join(s.workdir, "garbage.body")
        with open(body_path, "wb") as f:
            f.write(garbage if isinstance(garbage, bytes) else garbage.encode())
        code, body = curl_req("-X", "PATCH", *auth, "--data-binary", f"@{body_path}", url)
        check_eq(code, 400, f"PATCH {garbage!r} ({body})")
        validate("rest-error.schema.json", body)
    code, body = curl_req("-X", "PATCH", *auth, "--data-binary", '{"privvmpages": "12Q"}', url)
    check("/privvmpages" in json.loads(body)["error"], f"error names the field: {body}")
    # Oversized bodies: 413, with and without a declared length.
    big = os.path.join(s.workdir, "big.json")
    with open(big, "w", encoding="utf-8") as f:
        f.write('{"privvmpages": "' + "1" * (1 << 20) + '"}')
    for extra in ([], ["-H", "Transfer-Encoding: chunked"]):
        code, body = curl_req("-X", "PATCH", *auth, *extra, "--data-binary", f"@{big}", url)
        check_eq(code, 413, f"oversized body {extra} ({body[:200]})")
        validate("rest-error.schema.json", body)
    # Methods.
    for method, path, allow in (("DELETE", f"/v1/containers/{c.id}", "GET, PATCH, PUT"),
                                ("POST", "/v1/containers", "GET"),
                                ("PUT", "/metrics", "GET"),
                                ("TRACE", "/healthz", "GET"),
                                ("OPTIONS", "/v1/user_beancounters", "GET")):
        res = run([curl, "-sS", "-i", "-X", method, base + path], timeout_s=30)
        head, _, body = res.stdout.partition("\n\n")  # text mode folds \r\n
        check(head.split()[1] == "405", f"{method} {path}: {head}")
        check(f"Allow: {allow}" in head, f"{method} {path} Allow header: {head}")
        validate("rest-error.schema.json", body)
    # Unknown containers and paths; ids are percent-decoded and may not hold '/'.
    expect_error(s.ubcd, "GET", "/v1/containers/no-such-id", 404, contains="no-such-id")
    expect_error(s.ubcd, "GET", "/v1/containers/no-such-id/events", 404)
    expect_error(s.ubcd, "PATCH", "/v1/containers/no-such-id", 404, '{"privvmpages": "1"}', tok)
    expect_error(s.ubcd, "GET", "/v2/containers", 404)
    expect_error(s.ubcd, "GET", "/v1/containers/a%2Fb", 400, contains="'/'")
    expect_error(s.ubcd, "GET", f"/v1/containers/{c.id}/events/x", 404)
    encoded = "".join(f"%{ord(ch):02X}" for ch in c.id)
    get_json(s.ubcd, f"/v1/containers/{encoded}", "rest-container.schema.json")
    check_eq(privvm(s.ubcd, c.id)["barrier"]["pages"], 4096, "nothing changed")
    check(s.ubcd.alive(), "ubcd survived")
    c.stop()


# ---------------------------------------------------------------------------
# robustness and configuration


def test_slow_clients_do_not_block_decisions():
    s = session()
    c = s.supervised("16M:20M")
    host, port = "127.0.0.1", s.ubcd.config["rest"]["port"]
    hostile = []
    try:
        for i in range(64):
            sock = socket.create_connection((host, port), timeout=5)
            # Half a request line, a header without end, or a body that never comes.
            sock.sendall([b"GET /v1/containers HTTP/1.1\r\nHost: x\r\n",
                          b"PATCH /v1/containers/x HTTP/1.1\r\nContent-Length: 1000\r\n\r\n{",
                          b"GE"][i % 3])
            hostile.append(sock)
        start = time.monotonic()
        for _ in range(50):
            c.probe.ok(f"mmap {pages(1)}")
        elapsed = time.monotonic() - start
        check(elapsed < 5, f"50 decisions took {elapsed:.1f}s with slow HTTP clients")
        code, _, _ = http("GET", s.ubcd.rest_url + "/healthz", timeout_s=5)
        check_eq(code, 200, "API still answers other clients")
        get_json(s.ubcd, f"/v1/containers/{c.id}", "rest-container.schema.json")
    finally:
        for sock in hostile:
            sock.close()
    c.stop()


def test_listens_on_loopback_only_by_default():
    s = session()
    port = s.ubcd.config["rest"]["port"]
    listening = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii") as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            local, st = row.split()[1], row.split()[3]
            addr, hexport = local.split(":")
            if st == "0A" and int(hexport, 16) == port:
                listening.append(addr)
    check_eq(listening, ["0100007F"], f"listening addresses for port {port}")
    check(f"rest api on http://127.0.0.1:{port}" in s.ubcd.log(), "ubcd logs the URL")


def test_ubcd_runs_without_rest_and_with_a_bad_token_file():
    require_root()
    workdir = make_temp_dir("ubct")
    off = Ubcd(require_built("UBCD"), os.path.join(workdir, "off"),
               extra_config={"rest": {"enabled": False, "port": free_port(),
                                      "token_file": os.path.join(workdir, "off-token")}}).start()
    check("rest api" not in off.log(), f"REST mentioned while disabled:\n{off.log()}")
    check(off.status_text().startswith("Version: 2.5"), "status works without REST")
    # A token file others can read is refused: ubcd runs on, without the API.
    bad_dir = os.path.join(workdir, "bad")
    os.makedirs(bad_dir)
    token_path = os.path.join(bad_dir, "api-token")
    with open(token_path, "w", encoding="utf-8") as f:
        f.write("sekrit\n")
    os.chmod(token_path, 0o644)
    bad = Ubcd(require_built("UBCD"), bad_dir)
    bad.config["rest"]["token_file"] = token_path
    with open(bad.config_path, "w", encoding="utf-8") as f:
        json.dump(bad.config, f)
    bad.token_path = token_path
    bad.start()
    wait_until(lambda: "rest api not started" in bad.log(), timeout_s=5, what="refusal logged")
    check("chmod 600" in bad.log(), f"log says how to fix it:\n{bad.log()}")
    check(bad.alive(), "ubcd still runs")
    check(bad.status_text().startswith("Version: 2.5"), "status works")


def _ubcctl_status(text):
    """`ubcctl status` text: {ctid: {resource: (held, maxheld, barrier, limit, failcnt,
    marker)}}, the marker "" for enforced rows; the legend line is checked when a row
    is marked."""
    lines = text.splitlines()
    check(lines[:1] == ["Version: 2.5"] and lines[1].split()[:2] == ["uid", "resource"],
          f"ubcctl status header: {lines[:2]}")
    table, current, marked = {}, None, False
    for line in lines[2:]:
        if line.startswith("measured: "):
            check(marked, "a legend without a marked row")
            marked = None
            continue
        fields = line.split()
        if fields[0].endswith(":"):
            current = fields[0][:-1]
            table[current] = {}
            fields = fields[1:]
        check(current is not None and len(fields) in (6, 7), f"ubcctl status row: {line!r}")
        marker = fields[6] if len(fields) == 7 else ""
        marked = marked or bool(marker)
        table[current][fields[0]] = tuple(int(x) for x in fields[1:6]) + (marker,)
    check(marked is None or not marked, "marked rows without the legend")
    return table


def test_ubcctl_commands():
    s = session()
    c = s.supervised("16M:20M")
    data = c.probe.statm()
    c.probe.err(f"mmap {pages(4096 - data + 1)}")
    table = _ubcctl_status(ubcctl(s.ubcd, "status").stdout)
    check_eq(table[c.id]["privvmpages"][2:], (4096, 5120, 1, ""), "ubcctl status")
    check_eq(table[c.id]["lockedpages"][5], "measured", "ubcctl status marks lockedpages")
    check_eq(table[c.id]["numtcpsock"][5], "untracked", "ubcctl status marks numtcpsock")
    check_eq(table[c.id]["numfile"][5], "measured", "ubcctl status marks numfile")
    one = ubcctl(s.ubcd, "status", c.id).stdout
    check_eq(list(_ubcctl_status(one)), [c.id], "ubcctl status ID shows one container")
    doc = validate("rest-container.schema.json", ubcctl(s.ubcd, "get", c.id, "--json").stdout)
    check_eq(doc["id"], c.id, "get --json")
    text = ubcctl(s.ubcd, "get", c.id).stdout
    check("barrier" in text and "4096" in text and "annotation" in text, f"get:\n{text}")
    ev = ubcctl(s.ubcd, "events", c.id).stdout
    check("ENOMEM" in ev and "mmap" in ev and "ubc-probe" in ev, f"events:\n{ev}")
    # set: vzctl syntax, takes effect for the next allocation.
    held = privvm(s.ubcd, c.id)["held"]["pages"]
    out = ubcctl(s.ubcd, "set", c.id, "--privvmpages", f"{held + 100}:{held + 150}").stdout
    check(c.id in out, f"set output: {out}")
    c.probe.err(f"mmap {pages(500)}")
    check_eq(privvm(s.ubcd, c.id)["barrier"]["pages"], held + 100, "barrier after set")
    out = ubcctl(s.ubcd, "set", c.id, "--privvmpages", "64M").stdout
    check_eq(privvm(s.ubcd, c.id)["limit"]["pages"], 16384, "limit after set 64M")
    out = ubcctl(s.ubcd, "set", c.id, "--lockedpages", "8M:16M", "--numproc", "64").stdout
    check("lockedpages 2048:4096" in out and "numproc 64:64" in out, f"set output: {out}")
    doc = validate("rest-container.schema.json", ubcctl(s.ubcd, "get", c.id, "--json").stdout)
    locked = doc["beancounters"]["lockedpages"]
    check_eq((locked["barrier"]["pages"], locked["limit"]["pages"], locked["source"]),
             (2048, 4096, "api"), "lockedpages after set")
    check_eq(ubcctl(s.ubcd, "set", c.id, "--numproc", "1K", check_rc=False).returncode, 2,
             "numproc with a suffix is a usage error")
    # top: sorted by held/barrier, once and N times.
    d = s.supervised("1G:1G")
    top = ubcctl(s.ubcd, "top", "--once").stdout
    lines = top.splitlines()
    check(lines[1].split()[:2] == ["ID", "STATE"], f"top header:\n{top}")
    ids = [ln.split()[0] for ln in lines[2:]]
    check(ids.index(c.id) < ids.index(d.id), f"fuller container first:\n{top}")
    twice = ubcctl(s.ubcd, "top", "-n", "2", "-d", "0.2").stdout
    check_eq(twice.count("ubcctl top - "), 2, f"two frames:\n{twice}")
    # Refusals and usage errors.
    res = ubcctl(s.ubcd, "set", c.id, "--privvmpages", "12Q", check_rc=False)
    check(res.returncode == 2 and "12Q" in res.stderr, f"bad value: {res.stderr}")
    wrong = os.path.join(s.workdir, "wrong-token")
    with open(wrong, "w", encoding="utf-8") as f:
        f.write("nope\n")
    res = ubcctl(s.ubcd, "set", c.id, "--privvmpages", "1G", check_rc=False, token_file=wrong)
    check(res.returncode == 1 and "401" in res.stderr, f"wrong token: {res.stderr}")
    res = ubcctl(s.ubcd, "get", "no-such-id", check_rc=False)
    check(res.returncode == 1 and "404" in res.stderr and "no-such-id" in res.stderr,
          f"unknown id: {res.stderr}")
    c.stop()
    d.stop()


def test_ubcctl_when_ubcd_is_not_running():
    require_root()
    workdir = make_temp_dir("ubct")
    ubcd = Ubcd(require_built("UBCD"), workdir)  # configured, never started
    for args in (["status"], ["get", "x"], ["top", "--once"], ["events", "x"]):
        res = ubcctl(ubcd, *args, check_rc=False)
        check_eq(res.returncode, 1, f"exit code of ubcctl {' '.join(args)}")
        check("cannot reach ubcd" in res.stderr and ubcd.rest_url in res.stderr,
              f"message of ubcctl {' '.join(args)}: {res.stderr}")
    res = ubcctl(ubcd, "set", "x", "--privvmpages", "1", check_rc=False,
                 token_file=os.path.join(workdir, "absent"))
    check(res.returncode == 1 and "token file" in res.stderr, f"absent token: {res.stderr}")
    res = subprocess.run([require_built("UBCCTL"), "frobnicate"], capture_output=True, text=True,
                         timeout=20, check=False)
    check(res.returncode == 2 and "usage" in res.stderr, f"unknown command: {res.stderr}")
