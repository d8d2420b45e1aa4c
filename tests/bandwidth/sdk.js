// Runs one method of node-bandwidth 4.0.0 (npm, unchanged) against ringmaster and prints its
// result as JSON on one line: `node sdk.js Call.create '[{"from":..,"to":..}]'`.
// Credentials and base URL come from BW_BASE, BW_USER, BW_TOKEN, BW_SECRET; NODE_PATH points at
// the prefix scripts/setup installs into. An SDK error prints {"error":{"status","code","message"}}
// and exits 3.
"use strict";
var Bandwidth = require("node-bandwidth");

var client = new Bandwidth({
	userId    : process.env.BW_USER,
	apiToken  : process.env.BW_TOKEN,
	apiSecret : process.env.BW_SECRET,
	baseUrl   : process.env.BW_BASE
});
var parts = process.argv[2].split(".");
var args = JSON.parse(process.argv[3] || "[]");
var resource = client[parts[0]];

resource[parts[1]].apply(resource, args).then(function (result) {
	console.log(JSON.stringify({ result : result === undefined ? null : result }));
}, function (err) {
	console.log(JSON.stringify({ error : {
		status  : err.statusCode || null,
		code    : err.code || null,
		message : err.message
	} }));
	process.exit(3);
});
