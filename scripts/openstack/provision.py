#!/usr/bin/python3
"""Provision the loopback Keystone for imagegraph and write openstack.json.

usage: provision.py KEYSTONE_URL(/v3) GLANCE_URL OUT_JSON KEYSTONE_CONF
env:   ADMIN_PASSWORD, GLANCE_PASSWORD, IMAGEGRAPH_PASSWORD (required);
       IMAGEGRAPH_ROLES (default "member,admin")

Get-or-create, so it can run again on old data. The application credential is re-created every
run because its secret is shown only once. Secrets go only into OUT_JSON (mode 0600).
"""
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

ks, glance_url, out, keystone_conf = sys.argv[1:5]
env = os.environ
REGION = "RegionOne"
DOMAIN = {"id": "default"}


def call(method, path, token=None, body=None, accept=()):
    req = urllib.request.Request(ks + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("X-Auth-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return r.status, r.headers, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        if e.code in accept:
            return e.code, e.headers, None
        # Keystone's error bodies carry no secrets; request bodies might, so they are never shown.
        sys.exit(f"provision: {method} {path} -> {e.code} {e.read().decode(errors='replace')[:300]}")


def password_token(user, password, project=None, accept=()):
    body = {"auth": {"identity": {"methods": ["password"], "password": {
        "user": {"name": user, "domain": DOMAIN, "password": password}}}}}
    if project:
        body["auth"]["scope"] = {"project": {"name": project, "domain": DOMAIN}}
    status, headers, _ = call("POST", "/auth/tokens", body=body, accept=accept)
    return headers["X-Subject-Token"] if status == 201 else None


# A password change or a removed role writes a revocation event that also kills tokens issued in
# the same second (fernet issued_at has whole seconds), so such changes are made only when needed
# and followed by a pause before the next token.
revoked = False


def find(collection, token, **query):
    _, _, data = call("GET", f"/{collection}?" + urllib.parse.urlencode(query), token)
    return data[collection]


def get_or_create(collection, singular, token, query, ref):
    found = find(collection, token, **query)
    if found:
        return found[0]
    return call("POST", f"/{collection}", token, {singular: ref})[2][singular]


admin = password_token("admin", env["ADMIN_PASSWORD"], "admin")

projects = {name: get_or_create("projects", "project", admin, {"name": name, "domain_id": "default"},
                                {"name": name, "domain_id": "default", "enabled": True,
                                 "description": f"{name} (imagegraph lab)"})
            for name in ("service", "imagegraph")}


def role_id(name):
    # bootstrap makes reader/member/admin; anything else (e.g. "service") is created on demand.
    return get_or_create("roles", "role", admin, {"name": name}, {"name": name})["id"]


def user_with_roles(name, password, project, roles):
    user = get_or_create("users", "user", admin, {"name": name, "domain_id": "default"},
                         {"name": name, "domain_id": "default", "password": password,
                          "default_project_id": project["id"], "enabled": True})
    global revoked
    # Re-running with other passwords or roles must converge, not keep the old ones.
    if not password_token(name, password, accept=(401,)):
        call("PATCH", f"/users/{user['id']}", admin, {"user": {"password": password, "enabled": True}})
        revoked = True
    base = f"/projects/{project['id']}/users/{user['id']}/roles"
    wanted = {role_id(r) for r in roles}
    for role in call("GET", base, admin)[2]["roles"]:
        if role["id"] not in wanted:
            call("DELETE", f"{base}/{role['id']}", admin)
            revoked = True
    for rid in wanted:
        call("PUT", f"{base}/{rid}", admin)
    return user


user_with_roles("glance", env["GLANCE_PASSWORD"], projects["service"], ["admin"])
roles = [r.strip() for r in env.get("IMAGEGRAPH_ROLES", "member,admin").split(",") if r.strip()]
user = user_with_roles("imagegraph", env["IMAGEGRAPH_PASSWORD"], projects["imagegraph"], roles)

service = next((s for s in find("services", admin, type="image") if s["name"] == "glance"), None) \
    or call("POST", "/services", admin, {"service": {"name": "glance", "type": "image",
                                                     "description": "OpenStack Image", "enabled": True}})[2]["service"]
existing = {e["interface"]: e for e in find("endpoints", admin, service_id=service["id"])
            if e["region_id"] == REGION}
for interface in ("public", "internal", "admin"):
    ref = {"service_id": service["id"], "interface": interface, "url": glance_url,
           "region_id": REGION, "enabled": True}
    if interface not in existing:
        call("POST", "/endpoints", admin, {"endpoint": ref})
    elif existing[interface]["url"] != glance_url:  # Glance moved to another port
        call("PATCH", f"/endpoints/{existing[interface]['id']}", admin, {"endpoint": {"url": glance_url}})

# Keystone only lets a user create application credentials for itself, with a project-scoped
# token. Without explicit roles the credential gets all the user's roles on the project.
if revoked:
    time.sleep(1.1)
own = password_token("imagegraph", env["IMAGEGRAPH_PASSWORD"], "imagegraph")
acs = f"/users/{user['id']}/application_credentials"
for old in call("GET", f"{acs}?name=imagegraph-ci", own)[2]["application_credentials"]:
    call("DELETE", f"{acs}/{old['id']}", own)
ac = call("POST", acs, own, {"application_credential": {
    "name": "imagegraph-ci", "description": "imagegraph server -> glance", "unrestricted": False}})[2][
    "application_credential"]

result = {
    "keystoneUrl": ks,
    "glanceUrl": glance_url,
    "region": REGION,
    "projectId": projects["imagegraph"]["id"],
    "userId": user["id"],
    "applicationCredential": {"id": ac["id"], "secret": ac["secret"]},
    "adminPassword": env["ADMIN_PASSWORD"],
    "keystoneConf": keystone_conf,
}
tmp = out + ".tmp"
with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
    json.dump(result, f, indent=2)
    f.write("\n")
os.replace(tmp, out)
