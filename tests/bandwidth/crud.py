"""Bandwidth App Platform v1 CRUD through the unchanged bandwidth-sdk 3.1.0 (PyPI).

Run by tests/e2e_bandwidth_crud.rs with the venv scripts/setup makes:
    crud.py BASE_URL USER_ID TOKEN SECRET SIP_SUFFIX CALLBACK_URL NUMBER GRANTED_APP_ID
Every value written is read back and compared; errors are checked by status and code. Prints
one JSON object (ids the Rust test goes on with) on the last line; any failed check exits
non-zero with the reason.
"""
import json
import sys

from bandwidth.account import BandwidthAccountAPIException, Client

base, user, token, secret, suffix, callback, number, granted = sys.argv[1:9]
api = Client(user, token, secret, api_endpoint=base)


def check(cond, what):
    if not cond:
        raise SystemExit("check failed: " + what)


def expect_error(status, code, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except BandwidthAccountAPIException as e:
        check(e.status_code == status, "status %s != %s (%s)" % (e.status_code, status, e))
        check(e.code == code, "code %s != %s (%s)" % (e.code, code, e))
        return e
    raise SystemExit("expected %s %s from %s" % (status, code, fn.__name__))


# ---- applications ----
app_id = api.create_application(
    name="voice app",
    incoming_call_url=callback + "/incoming",
    incoming_call_url_callback_timeout=5000,
    incoming_call_fallback_url=callback + "/fallback",
    incoming_message_url=callback + "/messages",
    callback_http_method="GET",
    auto_answer=False,
)
check(app_id.startswith("a-"), "application id " + app_id)
a = api.get_application(app_id)
check(a["id"] == app_id, "id")
check(a["name"] == "voice app", "name")
check(a["incoming_call_url"] == callback + "/incoming", "incomingCallUrl")
check(a["incoming_call_url_callback_timeout"] == 5000, "timeout")
check(a["incoming_call_fallback_url"] == callback + "/fallback", "fallback")
check(a["callback_http_method"] == "get", "method")
check(a["auto_answer"] is False, "autoAnswer")
api.update_application(app_id, name="voice app 2", auto_answer=True, callback_http_method="post")
a2 = api.get_application(app_id)
check(a2["name"] == "voice app 2" and a2["auto_answer"] is True, "update")
check(a2["callback_http_method"] == "post", "method updated")
check(a2["incoming_call_url"] == a["incoming_call_url"], "unset fields unchanged")
other_app = api.create_application(name="second", incoming_call_url=callback + "/second")
check(api.get_application(other_app)["auto_answer"] is True, "autoAnswer defaults to true")
doomed = api.create_application(name="doomed", incoming_call_url=callback + "/doomed")
apps = list(api.list_applications(size=1))  # one per page: the Link header pages
check(sorted(x["id"] for x in apps) == sorted([app_id, other_app, doomed]), "list " + str(apps))
api.delete_application(doomed)
expect_error(404, "not-found", api.get_application, doomed)
expect_error(400, "callback-invalid-url", api.create_application,
             name="bad", incoming_call_url="http://169.254.169.254/latest")

# ---- domains ----
domain_id = api.create_domain(name="xyz-corp-py", description="Testing Demo Domain")
check(domain_id.startswith("rd-"), "domain id " + domain_id)
d = api.get_domain(domain_id)
check(d["id"] == domain_id and d["name"] == "xyz-corp-py", "domain")
check(d["description"] == "Testing Demo Domain", "description")
check(d["endpoints"].endswith("/domains/%s/endpoints" % domain_id), "endpoints url")
extra = [api.create_domain(name="extra-py-%d" % i, description="x") for i in range(3)]
listed = [x["id"] for x in api.list_domains(size=2)]
check(sorted(listed) == sorted([domain_id] + extra), "domains " + str(listed))
expect_error(409, "domain-name-already-exists", api.create_domain, name="xyz-corp-py",
             description="again")
for x in extra:
    api.delete_domain(x)
expect_error(404, "not-found", api.get_domain, extra[0])

# ---- endpoints ----
realm = "xyz-corp-py." + suffix
ep_id = api.create_domain_endpoint(domain_id, name="jsmith_mobile", password="abc123",
                                   description="John Smiths mobile client",
                                   application_id=app_id)
check(ep_id.startswith("re-"), "endpoint id " + ep_id)
e = api.get_domain_endpoint(domain_id, ep_id)
check(e["id"] == ep_id and e["name"] == "jsmith_mobile", "endpoint")
check(e["description"] == "John Smiths mobile client", "endpoint description")
check(e["domain_id"] == domain_id and e["application_id"] == app_id, "endpoint ids")
check(e["enabled"] is True, "enabled")
check(e["sip_uri"] == "sip:jsmith_mobile@" + realm, "sipUri " + e["sip_uri"])
check(e["credentials"] == {"realm": realm, "username": "jsmith_mobile"}, "credentials")
check("password" not in e["credentials"], "no password")
ep2 = api.create_domain_endpoint(domain_id, name="desk", password="desk-secret")
ep3 = api.create_domain_endpoint(domain_id, name="lobby", password="lobby-secret",
                                 enabled=False)
check("application_id" not in api.get_domain_endpoint(domain_id, ep2), "no application")
check(api.get_domain_endpoint(domain_id, ep3)["enabled"] is False, "created disabled")
names = [x["name"] for x in api.list_domain_endpoints(domain_id, size=2)]
check(sorted(names) == ["desk", "jsmith_mobile", "lobby"], "endpoints " + str(names))
api.update_domain_endpoint(domain_id, ep2, description="front desk", application_id=other_app,
                           enabled=False)
e2 = api.get_domain_endpoint(domain_id, ep2)
check(e2["description"] == "front desk" and e2["application_id"] == other_app, "update")
check(e2["enabled"] is False, "disabled")
api.update_domain_endpoint(domain_id, ep2, enabled=True)
check(api.get_domain_endpoint(domain_id, ep2)["description"] == "front desk", "kept")
expect_error(400, "invalid-request", api.create_domain_endpoint, domain_id, name="short",
             password="abc12")
expect_error(409, "endpoint-name-already-exists", api.create_domain_endpoint, domain_id,
             name="desk", password="another-one")
expect_error(400, "invalid-application-id", api.create_domain_endpoint, domain_id,
             name="nobody", password="abcdef", application_id="a-1")
tok = api.create_domain_endpoint_auth_token(domain_id, ep_id, expires=3600)
check(len(tok["token"]) >= 16 and tok["expires"] == 3600, "token " + str(tok))
api.delete_domain_endpoint(domain_id, ep3)
expect_error(404, "not-found", api.get_domain_endpoint, domain_id, ep3)
expect_error(404, "not-found", api.get_domain_endpoint, domain_id, "re-unknown")

# ---- phone numbers (assigned by the operator to the granted PIOPIY app) ----
nums = list(api.list_phone_numbers(size=1))
check([n["number"] for n in nums] == ["+" + number], "numbers " + str(nums))
n = nums[0]
check(n["id"] == "n-" + number and n["application_id"] == "a-" + granted, "number " + str(n))
check(n["created_time"].endswith("Z"), "createdTime")
api.update_phone_number(n["id"], name="front door", application_id=app_id)
n2 = api.get_phone_number(n["id"])
check(n2["name"] == "front door" and n2["application_id"] == app_id, "number update")
check([x["id"] for x in api.list_phone_numbers(application_id=app_id)] == [n["id"]], "filter")
expect_error(403, "number-ordering-unavailable", api.order_phone_number, number="+15550001111")
expect_error(404, "not-found", api.get_phone_number, "n-999")
expect_error(409, "application-has-numbers", api.delete_application, app_id)

print(json.dumps({
    "app_id": app_id,
    "other_app": other_app,
    "domain_id": domain_id,
    "endpoint_id": ep_id,
    "realm": realm,
    "token": tok["token"],
}))
