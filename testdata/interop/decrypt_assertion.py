#!/usr/bin/python3
"""Decrypts the xenc:EncryptedData in a SAML message with python3-cryptography.

An independent check of the XML Encryption 1.1 the simulator (and the bridge)
write: the content key is unwrapped with RSA-OAEP (rsa-oaep-mgf1p: SHA-1 and
MGF1-SHA-1; xmlenc11#rsa-oaep: the DigestMethod and xenc11:MGF given), the
data is AES-GCM with the 12-byte IV in front of ciphertext||tag.

usage: decrypt_assertion.py [--algorithms] --key KEY.pem MESSAGE.xml
Prints the plaintext (the decrypted element) on stdout; exits non-zero on
any failure. With --algorithms, a first line tells what was read from the
XML and used: "data=<aes*-gcm> transport=<rsa-oaep-mgf1p|rsa-oaep>
oaep-digest=<sha1|sha256|sha512> mgf1=<sha1|sha256|sha512>".
"""

import argparse
import base64
import sys
import xml.etree.ElementTree as ET

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NS = {
    "xenc": "http://www.w3.org/2001/04/xmlenc#",
    "xenc11": "http://www.w3.org/2009/xmlenc11#",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
}
RSA_OAEP_MGF1P = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"
RSA_OAEP = "http://www.w3.org/2009/xmlenc11#rsa-oaep"
DATA_KEY_BYTES = {
    "http://www.w3.org/2009/xmlenc11#aes128-gcm": 16,
    "http://www.w3.org/2009/xmlenc11#aes256-gcm": 32,
}
HASHES = {
    "http://www.w3.org/2000/09/xmldsig#sha1": hashes.SHA1,
    "http://www.w3.org/2001/04/xmlenc#sha256": hashes.SHA256,
    "http://www.w3.org/2001/04/xmlenc#sha512": hashes.SHA512,
}
MGFS = {
    "http://www.w3.org/2009/xmlenc11#mgf1sha1": hashes.SHA1,
    "http://www.w3.org/2009/xmlenc11#mgf1sha256": hashes.SHA256,
    "http://www.w3.org/2009/xmlenc11#mgf1sha512": hashes.SHA512,
}


def one(parent, path):
    found = parent.findall(path, NS)
    if len(found) != 1:
        raise ValueError("want exactly one %s, found %d" % (path, len(found)))
    return found[0]


def cipher_value(el):
    return base64.b64decode("".join(one(el, "xenc:CipherData/xenc:CipherValue").text.split()))


def short(uri):
    return uri.rsplit("#", 1)[-1]


def oaep_padding(method, used):
    alg = method.get("Algorithm")
    digest = method.find("ds:DigestMethod", NS)
    digest_uri = digest.get("Algorithm") if digest is not None else "http://www.w3.org/2000/09/xmldsig#sha1"
    if alg == RSA_OAEP_MGF1P:
        mgf = hashes.SHA1
    elif alg == RSA_OAEP:
        mgf_el = method.find("xenc11:MGF", NS)
        mgf = MGFS[mgf_el.get("Algorithm")] if mgf_el is not None else hashes.SHA1
    else:
        raise ValueError("key transport %s is not supported" % alg)
    used.update(transport=short(alg), digest=HASHES[digest_uri].name, mgf=mgf.name)
    return padding.OAEP(mgf=padding.MGF1(algorithm=mgf()), algorithm=HASHES[digest_uri](), label=None)


def decrypt(message, key, used):
    root = ET.fromstring(message)
    encrypted = root if root.tag == "{%s}EncryptedData" % NS["xenc"] else one(root, ".//xenc:EncryptedData")
    data_alg = one(encrypted, "xenc:EncryptionMethod").get("Algorithm")
    if data_alg not in DATA_KEY_BYTES:
        raise ValueError("data encryption %s is not supported" % data_alg)
    # The EncryptedKey sits in EncryptedData/KeyInfo or next to EncryptedData.
    keys = encrypted.findall("ds:KeyInfo/xenc:EncryptedKey", NS) or root.findall(".//xenc:EncryptedKey", NS)
    if len(keys) != 1:
        raise ValueError("want one EncryptedKey, found %d" % len(keys))
    ek = keys[0]
    used["data"] = short(data_alg)
    content_key = key.decrypt(cipher_value(ek), oaep_padding(one(ek, "xenc:EncryptionMethod"), used))
    if len(content_key) != DATA_KEY_BYTES[data_alg]:
        raise ValueError("content key is %d bytes, %s needs %d" % (len(content_key), data_alg, DATA_KEY_BYTES[data_alg]))
    body = cipher_value(encrypted)
    return AESGCM(content_key).decrypt(body[:12], body[12:], None)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algorithms", action="store_true", help="first print the algorithms used")
    parser.add_argument("--key", required=True, help="PEM private key (PKCS#1 or PKCS#8)")
    parser.add_argument("message", help="XML file holding one xenc:EncryptedData")
    args = parser.parse_args()
    used = {}
    try:
        with open(args.key, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), password=None)
        with open(args.message, "rb") as f:
            plaintext = decrypt(f.read(), key, used)
    except Exception as err:
        print("decrypt failed: %s: %s" % (type(err).__name__, err), file=sys.stderr)
        sys.exit(1)
    if args.algorithms:
        print("data=%(data)s transport=%(transport)s oaep-digest=%(digest)s mgf1=%(mgf)s" % used)
    sys.stdout.write(plaintext.decode("utf-8"))


if __name__ == "__main__":
    main()
