#!/usr/bin/python3
"""A headless pysaml2 service provider, driven by the Go interop tests.

Every subcommand reads one JSON object on stdin and writes one JSON object
on stdout; any failure exits non-zero with the reason on stderr.

Common input keys:
  entity_id          the SP's entityID
  acs_url            its HTTP-POST AssertionConsumerService URL
  key_file/cert_file its signing key pair (PEM)
  enc_key_file/enc_cert_file  optional encryption key pair (PEM); when set the
                     metadata carries a use="encryption" KeyDescriptor and
                     responses are decrypted with it (through xmlsec1)
  idp_metadata_file  the IdP's metadata (request and response only)

eIDAS-profile SP (pysaml2's eIDAS support), when eidas_sp_type is set:
  eidas_sp_type      "public" or "private": sent as eidas:SPType in the
                     request (sp_type_in_metadata False)
  eidas_requested_attributes  space-separated attribute URIs, sent as
                     eidas:RequestedAttributes, all required
  eidas_loa          the one LoA URI of RequestedAuthnContext, Comparison
                     "minimum" (request only)
  eidas_name_id_format  NameIDPolicy Format (request only; optional)
  It also sets force_authn, IsPassive="false", and wants the Response
  signed but not the assertion (eIDAS encrypts the assertion and signs the
  Response only).

Subcommands:
  metadata                      -> {"xml": "<EntityDescriptor ...>"}
  request --binding redirect|post
                                input may have relay_state
                                -> {"id", "binding", "url"} or
                                   {"id", "binding", "action", "fields"}
  response                      input also has saml_response (base64) and
                                outstanding_id -> {"ava", "name_id",
                                "name_id_format", "authn_context",
                                "in_response_to", "issuer", "session_index",
                                "audience"}
"""

import argparse
import json
import sys
from html.parser import HTMLParser

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import create_metadata_string
from saml2.saml import AuthnContextClassRef
from saml2.samlp import RequestedAuthnContext
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

XMLSEC1 = "/usr/bin/xmlsec1"


def sp_config(params, with_idp):
    sp = {
        "endpoints": {
            "assertion_consumer_service": [(params["acs_url"], BINDING_HTTP_POST)],
        },
        "authn_requests_signed": True,
        "want_response_signed": True,
        "want_assertions_signed": True,
        "allow_unsolicited": False,
        "signing_algorithm": SIG_RSA_SHA256,
        "digest_algorithm": DIGEST_SHA256,
    }
    conf = {
        "entityid": params["entity_id"],
        "key_file": params["key_file"],
        "cert_file": params["cert_file"],
        "xmlsec_binary": XMLSEC1,
        "allow_unknown_attributes": True,
        "signing_algorithm": SIG_RSA_SHA256,
        "digest_algorithm": DIGEST_SHA256,
        "service": {"sp": sp},
    }
    if params.get("eidas_sp_type"):
        sp["sp_type"] = params["eidas_sp_type"]
        sp["sp_type_in_metadata"] = False
        sp["force_authn"] = True
        sp["want_assertions_signed"] = False
        sp["requested_attributes"] = [
            {"name": name, "required": True}
            for name in params.get("eidas_requested_attributes", "").split()
        ]
    if params.get("enc_key_file"):
        conf["encryption_keypairs"] = [
            {"key_file": params["enc_key_file"], "cert_file": params["enc_cert_file"]}
        ]
    if with_idp:
        conf["metadata"] = {"local": [params["idp_metadata_file"]]}
    config = SPConfig()
    config.load(conf)
    return config


def cmd_metadata(params, _args):
    xml = create_metadata_string(None, config=sp_config(params, False), sign=False)
    if isinstance(xml, bytes):
        xml = xml.decode("utf-8")
    return {"xml": xml}


class FormParser(HTMLParser):
    """Collects the action and the inputs of the one form pysaml2 renders."""

    def __init__(self):
        super().__init__()
        self.action = None
        self.fields = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.action = attrs.get("action")
        elif tag == "input" and attrs.get("name") and attrs.get("type") != "submit":
            self.fields[attrs["name"]] = attrs.get("value", "")


def cmd_request(params, args):
    client = Saml2Client(config=sp_config(params, True))
    binding = {"redirect": BINDING_HTTP_REDIRECT, "post": BINDING_HTTP_POST}[args.binding]
    extra = {}
    if params.get("eidas_loa"):
        extra["requested_authn_context"] = RequestedAuthnContext(
            authn_context_class_ref=[AuthnContextClassRef(text=params["eidas_loa"])],
            comparison="minimum",
        )
        extra["is_passive"] = "false"
    if params.get("eidas_name_id_format"):
        extra["nameid_format"] = params["eidas_name_id_format"]
    req_id, info = client.prepare_for_authenticate(
        relay_state=params.get("relay_state", ""),
        binding=binding,
        sign=True,
        sigalg=SIG_RSA_SHA256,
        digest_alg=DIGEST_SHA256,
        **extra,
    )
    out = {"id": req_id, "binding": args.binding}
    if binding == BINDING_HTTP_REDIRECT:
        out["url"] = dict(info["headers"])["Location"]
    else:
        form = FormParser()
        form.feed(info["data"])
        out["action"], out["fields"] = form.action, form.fields
    return out


def cmd_response(params, _args):
    client = Saml2Client(config=sp_config(params, True))
    resp = client.parse_authn_request_response(
        params["saml_response"],
        BINDING_HTTP_POST,
        outstanding={params["outstanding_id"]: "/"},
    )
    if resp is None:
        raise RuntimeError("pysaml2 returned no response (could not unravel it)")
    assertion = resp.assertion
    if assertion is None:
        # pysaml2 swallows DecryptError and hands back a response without
        # an assertion: that is a failed login, not a success.
        raise RuntimeError("no assertion in the parsed response (EncryptedAssertion not decrypted?)")
    name_id = assertion.subject.name_id
    audience = []
    if assertion.conditions is not None:
        for restriction in assertion.conditions.audience_restriction:
            audience.extend(a.text for a in restriction.audience)
    session_index = None
    if assertion.authn_statement:
        session_index = assertion.authn_statement[0].session_index
    return {
        "ava": resp.ava,
        "name_id": name_id.text if name_id is not None else None,
        "name_id_format": name_id.format if name_id is not None else None,
        "authn_context": [info[0] for info in resp.authn_info()],
        "in_response_to": resp.in_response_to,
        "issuer": resp.issuer(),
        "session_index": session_index,
        "audience": audience,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("metadata")
    req = sub.add_parser("request")
    req.add_argument("--binding", choices=["redirect", "post"], required=True)
    sub.add_parser("response")
    args = parser.parse_args()
    params = json.load(sys.stdin)
    handler = {"metadata": cmd_metadata, "request": cmd_request, "response": cmd_response}
    try:
        out = handler[args.command](params, args)
    except Exception as err:  # the Go test reads the reason from stderr
        print("pysaml2 %s failed: %s: %s" % (args.command, type(err).__name__, err), file=sys.stderr)
        sys.exit(1)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
