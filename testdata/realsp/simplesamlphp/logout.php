<?php
// Single logout started by the SP: SimpleSAMLphp sends a LogoutRequest to
// the IdP and comes back to loggedout.php with the outcome.
require_once('/usr/share/simplesamlphp/lib/_autoload.php');

$as = new \SimpleSAML\Auth\Simple('default-sp');
$as->logout([
    'ReturnTo' => \SimpleSAML\Utils\HTTP::getSelfURLHost() . '/protected/loggedout.php',
    'ReturnStateParam' => 'LogoutState',
    'ReturnStateStage' => 'InteropLogoutState',
]);
