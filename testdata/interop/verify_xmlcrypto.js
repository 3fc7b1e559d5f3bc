#!/usr/bin/env node
// Verifies the enveloped signature of a SAML message's root element with
// xml-crypto (node-saml/xml-crypto), an independent XML-DSig implementation,
// trusting only the given certificate: the certificate in KeyInfo is ignored
// (getCertFromKeyInfo returns null).
//
// usage: node verify_xmlcrypto.js --cert CERT.pem [--pss-sha512] MESSAGE.xml
//
// Prints "ok <SignatureMethod> <Reference URI>" on success; exits 1 with the
// reason on stderr otherwise.
//
// xml-crypto 6.3.2 knows one RSA-PSS method, sha256-rsa-MGF1 (RFC 6931). With
// --pss-sha512 the script registers sha512-rsa-MGF1 through xml-crypto's
// documented extension point (SignedXml.SignatureAlgorithms), with the same
// parameters xml-crypto uses for sha256-rsa-MGF1: MGF1 with the message hash
// and a salt as long as the hash. Canonicalization, digests and the
// reference checks stay xml-crypto's own.
"use strict";

const fs = require("fs");
const crypto = require("crypto");
const { SignedXml } = require("xml-crypto");
const { DOMParser } = require("@xmldom/xmldom");

const DSIG = "http://www.w3.org/2000/09/xmldsig#";
const PSS_SHA512 = "http://www.w3.org/2007/05/xmldsig-more#sha512-rsa-MGF1";

class RsaPssSha512 {
  getAlgorithmName() {
    return PSS_SHA512;
  }

  getSignature() {
    throw new Error("verification only");
  }

  verifySignature(material, key, signatureValue) {
    const verifier = crypto.createVerify("RSA-SHA512");
    verifier.update(material);
    return verifier.verify(
      { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: crypto.constants.RSA_PSS_SALTLEN_DIGEST },
      signatureValue,
      "base64",
    );
  }
}

function parseArgs(argv) {
  const args = { cert: null, pssSha512: false, file: null };
  for (let i = 0; i < argv.length; i++) {
    switch (argv[i]) {
      case "--cert":
        args.cert = argv[++i];
        break;
      case "--pss-sha512":
        args.pssSha512 = true;
        break;
      default:
        if (args.file !== null) throw new Error("more than one message file");
        args.file = argv[i];
    }
  }
  if (!args.cert || !args.file) throw new Error("usage: verify_xmlcrypto.js --cert CERT.pem [--pss-sha512] MESSAGE.xml");
  return args;
}

function verify(args) {
  const xml = fs.readFileSync(args.file, "utf8");
  const doc = new DOMParser().parseFromString(xml, "text/xml");
  const root = doc.documentElement;
  if (!root) throw new Error("no document element");
  // The signature must be a direct child of the root and cover it: the
  // shape a SAML relying party accepts (no wrapping).
  const signatures = [];
  for (let n = root.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 1 && n.namespaceURI === DSIG && n.localName === "Signature") signatures.push(n);
  }
  if (signatures.length !== 1) throw new Error(`root has ${signatures.length} ds:Signature children, want 1`);

  const sig = new SignedXml({
    publicCert: fs.readFileSync(args.cert, "utf8"),
    getCertFromKeyInfo: () => null,
  });
  if (args.pssSha512) sig.SignatureAlgorithms[PSS_SHA512] = RsaPssSha512;
  sig.loadSignature(signatures[0]);
  if (sig.checkSignature(xml) !== true) throw new Error("xml-crypto: signature is not valid");

  const refs = sig.getReferences();
  const id = root.getAttribute("ID");
  if (refs.length !== 1 || refs[0].uri !== "#" + id) {
    throw new Error(`want one Reference to #${id}, got ${refs.map((r) => r.uri).join(",")}`);
  }
  const signed = sig.getSignedReferences();
  if (signed.length !== 1 || !signed[0].includes(`ID="${id}"`) || !signed[0].startsWith("<" + root.tagName)) {
    throw new Error("the verified reference is not the root element");
  }
  return `ok ${sig.signatureAlgorithm} ${refs[0].uri}`;
}

try {
  process.stdout.write(verify(parseArgs(process.argv.slice(2))) + "\n");
} catch (err) {
  process.stderr.write(`xml-crypto verify failed: ${err && err.message ? err.message : err}\n`);
  process.exit(1);
}
