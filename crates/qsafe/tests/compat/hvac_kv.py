# KV v2 round trips with hvac's unchanged `secrets.kv.v2` API against `qsafe dev`.
# argv: url ca-file. Exits non-zero (an assertion or hvac exception) on any difference.
import sys

import hvac
from hvac import exceptions as E

url, ca = sys.argv[1], sys.argv[2]
c = hvac.Client(url=url, token="dev-root", verify=ca)
kv = c.secrets.kv.v2

# Versions.
r = kv.create_or_update_secret(path="app/db", secret={"user": "alice", "password": "s3cret"})
assert r["data"]["version"] == 1, r
r = kv.create_or_update_secret(path="app/db", secret={"user": "alice", "password": "rotated"}, cas=1)
assert r["data"]["version"] == 2, r
cur = kv.read_secret_version(path="app/db", raise_on_deleted_version=True)
assert cur["data"]["data"] == {"user": "alice", "password": "rotated"}, cur
assert cur["data"]["metadata"]["version"] == 2
old = kv.read_secret_version(path="app/db", version=1, raise_on_deleted_version=True)
assert old["data"]["data"]["password"] == "s3cret"

# CAS conflict: stale version, and "create only" on an existing secret.
for cas in (1, 0):
    try:
        kv.create_or_update_secret(path="app/db", secret={"x": "y"}, cas=cas)
        raise SystemExit(f"cas={cas} should have been refused")
    except E.InvalidRequest as e:
        assert "check-and-set" in str(e), e
assert kv.read_secret_version(path="app/db", raise_on_deleted_version=True)["data"]["metadata"]["version"] == 2

# Patch (hvac reads, merges and writes with cas).
kv.patch(path="app/db", secret={"port": "5432"})
cur = kv.read_secret_version(path="app/db", raise_on_deleted_version=True)["data"]
assert cur["data"] == {"user": "alice", "password": "rotated", "port": "5432"}, cur
assert cur["metadata"]["version"] == 3

# Soft delete, undelete, destroy.
kv.delete_latest_version_of_secret(path="app/db")
try:
    kv.read_secret_version(path="app/db", raise_on_deleted_version=True)
    raise SystemExit("a deleted version was readable")
except E.InvalidPath:
    pass
kv.undelete_secret_versions(path="app/db", versions=[3])
assert kv.read_secret_version(path="app/db", raise_on_deleted_version=True)["data"]["data"]["port"] == "5432"
kv.destroy_secret_versions(path="app/db", versions=[1])
meta = kv.read_secret_metadata(path="app/db")["data"]
assert meta["versions"]["1"]["destroyed"] is True, meta
assert meta["versions"]["3"]["deletion_time"] == "", meta
assert meta["current_version"] == 3 and meta["oldest_version"] == 0, meta

# Metadata and custom metadata; max_versions trims.
kv.update_metadata(path="app/db", max_versions=2, custom_metadata={"owner": "ops"})
meta = kv.read_secret_metadata(path="app/db")["data"]
assert meta["custom_metadata"] == {"owner": "ops"} and meta["max_versions"] == 2, meta
kv.create_or_update_secret(path="app/db", secret={"v": "4"})
meta = kv.read_secret_metadata(path="app/db")["data"]
assert sorted(meta["versions"], key=int) == ["3", "4"], meta

# Listing with folders.
kv.create_or_update_secret(path="app/api", secret={"k": "v"})
kv.create_or_update_secret(path="top", secret={"k": "v"})
assert sorted(kv.list_secrets(path="app")["data"]["keys"]) == ["api", "db"]
assert sorted(kv.list_secrets(path="")["data"]["keys"]) == ["app/", "top"]

# Mount configuration; cas_required then refuses a write without cas.
kv.configure(max_versions=5, cas_required=True)
assert kv.read_configuration()["data"]["cas_required"] is True
try:
    kv.create_or_update_secret(path="top", secret={"k": "w"})
    raise SystemExit("cas_required was not enforced")
except E.InvalidRequest:
    pass
kv.configure(max_versions=5, cas_required=False)

# Delete everything.
kv.delete_metadata_and_all_versions(path="top")
try:
    kv.read_secret_version(path="top", raise_on_deleted_version=True)
    raise SystemExit("deleted metadata still readable")
except E.InvalidPath:
    pass

# A second KV v2 mount, as users enable one.
c.sys.enable_secrets_engine(backend_type="kv", path="team/kv", options={"version": "2"})
kv.create_or_update_secret(path="x", secret={"a": "b"}, mount_point="team/kv")
assert kv.read_secret_version(path="x", mount_point="team/kv", raise_on_deleted_version=True)["data"]["data"] == {"a": "b"}

# A token whose policy reads only app/* cannot read elsewhere.
c.sys.create_or_update_policy(name="app-read", policy='path "secret/data/app/*" { capabilities = ["read"] }')
t = c.auth.token.create(policies=["app-read"], ttl="1h")["auth"]["client_token"]
ro = hvac.Client(url=url, token=t, verify=ca).secrets.kv.v2
assert ro.read_secret_version(path="app/db", raise_on_deleted_version=True)["data"]["data"]["v"] == "4"
try:
    ro.create_or_update_secret(path="app/db", secret={"no": "pe"})
    raise SystemExit("write allowed by a read-only policy")
except E.Forbidden:
    pass
print("hvac kv ok")
