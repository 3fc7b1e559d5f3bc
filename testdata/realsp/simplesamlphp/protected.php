<?php
// The protected page of the SimpleSAMLphp interop test: it needs a login at
// the SP's IdP (clavebridge) and shows what the SP received, as JSON.
require_once('/usr/share/simplesamlphp/lib/_autoload.php');

$as = new \SimpleSAML\Auth\Simple('default-sp');
$as->requireAuth();

$nameID = $as->getAuthData('saml:sp:NameID');
header('Content-Type: application/json; charset=utf-8');
header('Cache-Control: no-store');
echo json_encode([
    'attributes' => $as->getAttributes(),
    'name_id' => $nameID === null ? null : $nameID->getValue(),
    'name_id_format' => $nameID === null ? null : $nameID->getFormat(),
    'authn_context' => $as->getAuthData('saml:sp:AuthnContext'),
    'idp' => $as->getAuthData('saml:sp:IdP'),
    'session_index' => $as->getAuthData('saml:sp:SessionIndex'),
], JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES);
