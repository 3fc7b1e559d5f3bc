#!/usr/bin/python3
# The protected page of the mod_auth_mellon interop test: what mellon put in
# the environment (MELLON_*), as one JSON object.
import json
import os
import sys

env = {k.decode("utf-8", "replace"): v.decode("utf-8", "replace")
       for k, v in os.environb.items() if k.startswith(b"MELLON_")}
body = json.dumps(env, ensure_ascii=False, sort_keys=True).encode("utf-8")
sys.stdout.buffer.write(b"Content-Type: application/json; charset=utf-8\r\n\r\n" + body)
