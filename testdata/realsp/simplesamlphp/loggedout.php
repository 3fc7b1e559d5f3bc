<?php
// Where single logout ends: the status the IdP's LogoutResponse carried.
require_once('/usr/share/simplesamlphp/lib/_autoload.php');

$state = \SimpleSAML\Auth\State::loadState((string) ($_REQUEST['LogoutState'] ?? ''), 'InteropLogoutState');
$status = $state['saml:sp:LogoutStatus'] ?? null;
$as = new \SimpleSAML\Auth\Simple('default-sp');
header('Content-Type: application/json; charset=utf-8');
header('Cache-Control: no-store');
echo json_encode([
    'logged_out' => !$as->isAuthenticated(),
    'status' => $status,
], JSON_UNESCAPED_SLASHES);
