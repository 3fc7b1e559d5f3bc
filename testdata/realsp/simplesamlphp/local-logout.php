<?php
// Forgets the SP's own session only, without telling the IdP: the test's
// control that the IdP's SSO session would otherwise be reused.
require_once('/usr/share/simplesamlphp/lib/_autoload.php');

$session = \SimpleSAML\Session::getSessionFromRequest();
$session->doLogout('default-sp');
header('Content-Type: text/plain; charset=utf-8');
echo "local session ended\n";
