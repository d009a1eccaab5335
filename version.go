package cachestack

// Version is this module's release, in semantic versioning; the module's
// tag is "v" + Version. While the major version is 0, a minor release may
// change the API (every change is listed in the changelog) and a patch
// release only fixes.
const Version = "0.1.0"
