// Bandwidth App Platform v1 CRUD through the unchanged node-bandwidth 4.0.0 (npm).
//
// Run by tests/e2e_bandwidth_crud.rs with NODE_PATH at the prefix scripts/setup installs into:
//   node crud.js crud BASE_URL USER_ID TOKEN SECRET SIP_SUFFIX CALLBACK_URL NUMBER
//   node crud.js enable BASE_URL USER_ID TOKEN SECRET DOMAIN_ID ENDPOINT_ID true|false
// Every value written is read back and compared. Prints one JSON object on the last line; a
// failed check exits non-zero with the reason.
"use strict";
var Bandwidth = require("node-bandwidth");

var args = process.argv.slice(2);
var mode = args[0];
var client = new Bandwidth({
	userId    : args[2],
	apiToken  : args[3],
	apiSecret : args[4],
	baseUrl   : args[1]
});

function check (cond, what) {
	if (!cond) {
		throw new Error("check failed: " + what);
	}
}

function expectStatus (status, promise) {
	return promise.then(function () {
		throw new Error("expected status " + status);
	}, function (err) {
		check(err.statusCode === status, "status " + err.statusCode + " != " + status + ": " + err.message);
	});
}

// Every page of a node-bandwidth list, following `getNextPage` (the Link header).
function all (first, key) {
	var items = [];
	function step (res) {
		items = items.concat(res[key]);
		return res.hasNextPage ? res.getNextPage().then(step) : items;
	}
	return first.then(step);
}

async function crud () {
	var suffix = args[5];
	var callback = args[6];
	var number = args[7];

	// applications
	var app = await client.Application.create({
		name                           : "node app",
		incomingCallUrl                : callback + "/node",
		incomingCallUrlCallbackTimeout : 3000,
		callbackHttpMethod             : "get",
		autoAnswer                     : false
	});
	check(/^a-\d+$/.test(app.id), "application id " + app.id);
	var a = await client.Application.get(app.id);
	check(a.name === "node app" && a.incomingCallUrl === callback + "/node", "app " + JSON.stringify(a));
	check(a.incomingCallUrlCallbackTimeout === 3000 && a.callbackHttpMethod === "get", "app settings");
	check(a.autoAnswer === false, "autoAnswer");
	await client.Application.update(app.id, { name : "node app 2", incomingCallFallbackUrl : callback + "/fb" });
	a = await client.Application.get(app.id);
	check(a.name === "node app 2" && a.incomingCallFallbackUrl === callback + "/fb", "updated app");
	check(a.incomingCallUrl === callback + "/node", "unchanged url");
	var tmp = await client.Application.create({ name : "tmp", incomingCallUrl : callback + "/tmp" });
	var apps = await all(client.Application.list({ size : 1 }), "applications");
	check(apps.map(function (x) { return x.id; }).sort().join() === [ app.id, tmp.id ].sort().join(),
		"applications " + JSON.stringify(apps));
	await client.Application.delete(tmp.id);
	await expectStatus(404, client.Application.get(tmp.id));

	// domains
	var domain = await client.Domain.create({ name : "node-corp", description : "node domain" });
	check(/^rd-/.test(domain.id), "domain id");
	var extra = await client.Domain.create({ name : "node-extra", description : "extra" });
	var domains = await all(client.Domain.list({ size : 1 }), "domains");
	var mine = domains.filter(function (d) { return d.id === domain.id; })[0];
	check(domains.length === 2 && mine.name === "node-corp" && mine.description === "node domain",
		"domains " + JSON.stringify(domains));
	await client.Domain.delete(extra.id);
	domains = await all(client.Domain.list({}), "domains");
	check(domains.length === 1, "deleted domain");

	// endpoints
	var ep = await client.Endpoint.create(domain.id, {
		name          : "node_phone",
		description   : "a node phone",
		applicationId : app.id,
		enabled       : "true",
		credentials   : { password : "node-secret" }
	});
	check(/^re-/.test(ep.id), "endpoint id");
	var e = await client.Endpoint.get(domain.id, ep.id);
	check(e.name === "node_phone" && e.description === "a node phone", "endpoint " + JSON.stringify(e));
	check(e.domainId === domain.id && e.applicationId === app.id && e.enabled === true, "endpoint ids");
	check(e.sipUri === "sip:node_phone@node-corp." + suffix, "sipUri " + e.sipUri);
	check(e.credentials.realm === "node-corp." + suffix && e.credentials.username === "node_phone", "credentials");
	var second = await client.Endpoint.create(domain.id, { name : "second", credentials : { password : "second-pw" } });
	var eps = await all(client.Endpoint.list(domain.id, { size : 1 }), "endpoints");
	check(eps.map(function (x) { return x.name; }).sort().join() === "node_phone,second", "endpoints");
	await client.Endpoint.update(domain.id, ep.id, { description : "renamed", enabled : false });
	e = await client.Endpoint.get(domain.id, ep.id);
	check(e.description === "renamed" && e.enabled === false && e.applicationId === app.id, "updated endpoint");
	var token = await client.Endpoint.createAuthToken(domain.id, ep.id, { expires : 600 });
	check(typeof token.token === "string" && token.expires === 600, "token " + JSON.stringify(token));
	await client.Endpoint.delete(domain.id, second.id);
	await expectStatus(404, client.Endpoint.get(domain.id, second.id));

	// phone numbers
	var numbers = await all(client.PhoneNumber.list({ size : 1 }), "phoneNumbers");
	check(numbers.length === 1 && numbers[0].number === "+" + number, "numbers " + JSON.stringify(numbers));
	await client.PhoneNumber.update(numbers[0].id, { applicationId : app.id, name : "node line" });
	var n = await client.PhoneNumber.get("+" + number);
	check(n.applicationId === app.id && n.name === "node line", "number " + JSON.stringify(n));
	await expectStatus(403, client.PhoneNumber.create({ number : "+15550001111" }));

	// deleting the domain takes its endpoints along
	await client.Domain.delete(domain.id);
	await expectStatus(404, client.Endpoint.get(domain.id, ep.id));
	return { app_id : app.id };
}

async function enable () {
	await client.Endpoint.update(args[5], args[6], { enabled : args[7] === "true" });
	var e = await client.Endpoint.get(args[5], args[6]);
	check(e.enabled === (args[7] === "true"), "enabled");
	return { enabled : e.enabled };
}

(mode === "crud" ? crud() : enable()).then(function (out) {
	console.log(JSON.stringify(out));
}, function (err) {
	console.error(err && err.stack || err);
	process.exit(1);
});
