"use strict";
// The compiled addon (node-gyp rebuild at install). Throws when it was not built; callers treat that as absent.
module.exports = require("./build/Release/native_crypto.node");
