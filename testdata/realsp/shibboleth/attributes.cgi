#!/usr/bin/python3
# The interop test's protected page: the environment mod_shib gives the
# application behind it (the session's attributes under the ids of
# attribute-map.xml, Shib-AuthnContext-Class, Shib-Identity-Provider, ...)
# beside the usual CGI variables, as one JSON object.
import json
import os

print("Content-Type: application/json")
print()
print(json.dumps(dict(os.environ), sort_keys=True))
