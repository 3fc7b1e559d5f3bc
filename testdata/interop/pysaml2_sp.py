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
  idp_metadata_file  the IdP's metadata (every subcommand but metadata)
  slo_url            optional SingleLogoutService URL; when set the metadata
                     lists it (bindings from slo_bindings, space-separated
                     "post" and/or "redirect", default both, in that order)
                     and logout requests are signed

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
  logout_request --binding redirect|post
                                input also has the login's saml_response and
                                outstanding_id: pysaml2 reads the login (which
                                records the session: NameID, SessionIndex,
                                IdP) and starts its logout with do_logout,
                                signed (an enveloped signature for POST, the
                                query signature for Redirect)
                                -> {"id", "binding", "name_id",
                                    "session_index", "url"} or
                                   {..., "action", "fields"}
  logout_response --binding redirect|post
                                input also has saml_response (the base64
                                SAMLResponse value, DEFLATEd for redirect)
                                and, for redirect, relay_state, sig_alg and
                                signature as received; pysaml2 parses the
                                IdP's LogoutResponse (for redirect the query
                                signature is checked against the IdP's
                                metadata) -> {"id", "in_response_to",
                                "issuer", "destination", "status",
                                "sub_status", "signed"}
"""

import argparse
import json
import sys
from html.parser import HTMLParser

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import create_metadata_string
from saml2.samlp import STATUS_SUCCESS
from saml2.sigver import verify_redirect_signature
from saml2.saml import AuthnContextClassRef
from saml2.samlp import RequestedAuthnContext
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

XMLSEC1 = "/usr/bin/xmlsec1"

BINDINGS = {"redirect": BINDING_HTTP_REDIRECT, "post": BINDING_HTTP_POST}
LOGOUT_REASON_USER = "urn:oasis:names:tc:SAML:2.0:logout:user"


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
    if params.get("slo_url"):
        sp["endpoints"]["single_logout_service"] = [
            (params["slo_url"], BINDINGS[name])
            for name in params.get("slo_bindings", "post redirect").split()
        ]
        sp["logout_requests_signed"] = True
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
    binding = BINDINGS[args.binding]
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
    return http_info_out(binding, info, {"id": req_id, "binding": args.binding})


def parse_login(client, params):
    """Reads the login's Response; pysaml2 records the session it opens."""
    resp = client.parse_authn_request_response(
        params["saml_response"],
        BINDING_HTTP_POST,
        outstanding={params["outstanding_id"]: "/"},
    )
    if resp is None:
        raise RuntimeError("pysaml2 returned no response (could not unravel it)")
    if resp.assertion is None:
        # pysaml2 swallows DecryptError and hands back a response without
        # an assertion: that is a failed login, not a success.
        raise RuntimeError("no assertion in the parsed response (EncryptedAssertion not decrypted?)")
    return resp


def cmd_response(params, _args):
    client = Saml2Client(config=sp_config(params, True))
    resp = parse_login(client, params)
    assertion = resp.assertion
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


def http_info_out(binding, http_info, out):
    """Adds the redirect URL or the POST form pysaml2 rendered to out."""
    if binding == BINDING_HTTP_REDIRECT:
        out["url"] = dict(http_info["headers"])["Location"]
    else:
        form = FormParser()
        form.feed(http_info["data"])
        out["action"], out["fields"] = form.action, form.fields
    return out


def cmd_logout_request(params, args):
    client = Saml2Client(config=sp_config(params, True))
    login = parse_login(client, params)
    name_id = login.assertion.subject.name_id
    idp = login.issuer()
    session_index = login.assertion.authn_statement[0].session_index
    responses = client.do_logout(
        name_id,
        [idp],
        reason=LOGOUT_REASON_USER,
        expire=None,
        sign=True,
        expected_binding=BINDINGS[args.binding],
        sign_alg=SIG_RSA_SHA256,
        digest_alg=DIGEST_SHA256,
    )
    if idp not in responses:
        raise RuntimeError("pysaml2 sent no logout to %s: %r" % (idp, responses))
    binding, http_info = responses[idp]
    if binding != BINDINGS[args.binding]:
        raise RuntimeError("pysaml2 chose binding %s, not %s" % (binding, args.binding))
    req_ids = [k for k, v in client.state.items() if v.get("operation") == "SLO"]
    if len(req_ids) != 1:
        raise RuntimeError("pysaml2 recorded %d logout requests" % len(req_ids))
    out = {
        "id": req_ids[0],
        "binding": args.binding,
        "name_id": name_id.text,
        "session_index": session_index,
    }
    return http_info_out(binding, http_info, out)


def cmd_logout_response(params, args):
    client = Saml2Client(config=sp_config(params, True))
    binding = BINDINGS[args.binding]
    if binding == BINDING_HTTP_REDIRECT:
        # pysaml2 does not check the Redirect binding's query signature of a
        # LogoutResponse itself: check it against the IdP's metadata here.
        if not params.get("sig_alg") or not params.get("signature"):
            raise RuntimeError("the redirect LogoutResponse is not signed")
        msg = {"SAMLResponse": params["saml_response"], "SigAlg": params["sig_alg"],
               "Signature": params["signature"]}
        if params.get("relay_state"):
            msg["RelayState"] = params["relay_state"]
        certs = [
            cert
            for idp in client.metadata.identity_providers()
            for cert in client.metadata.certs(idp, "idpsso", "signing")
        ]
        if not any(verify_redirect_signature(msg, client.sec.sec_backend, cert=c) for c in certs):
            raise RuntimeError("the redirect LogoutResponse's signature does not verify")
    resp = client.parse_logout_request_response(params["saml_response"], binding)
    if resp is None:
        raise RuntimeError("pysaml2 returned no logout response (could not unravel it)")
    if not resp.verify():  # Destination, IssueInstant; raises on an error status
        raise RuntimeError("pysaml2 did not verify the logout response")
    status = resp.response.status
    sub = status.status_code.status_code
    return {
        "id": resp.response.id,
        "in_response_to": resp.in_response_to,
        "issuer": resp.issuer(),
        "destination": resp.response.destination,
        "status": status.status_code.value,
        "sub_status": sub.value if sub is not None else None,
        "signed": resp.response.signature is not None,
        "success": status.status_code.value == STATUS_SUCCESS,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("metadata")
    req = sub.add_parser("request")
    req.add_argument("--binding", choices=["redirect", "post"], required=True)
    sub.add_parser("response")
    for name in ("logout_request", "logout_response"):
        lo = sub.add_parser(name)
        lo.add_argument("--binding", choices=["redirect", "post"], required=True)
    args = parser.parse_args()
    params = json.load(sys.stdin)
    handler = {
        "metadata": cmd_metadata,
        "request": cmd_request,
        "response": cmd_response,
        "logout_request": cmd_logout_request,
        "logout_response": cmd_logout_response,
    }
    try:
        out = handler[args.command](params, args)
    except Exception as err:  # the Go test reads the reason from stderr
        print("pysaml2 %s failed: %s: %s" % (args.command, type(err).__name__, err), file=sys.stderr)
        sys.exit(1)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
