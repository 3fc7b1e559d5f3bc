<?php
// Converts an IdP's SAML 2.0 metadata (XML on stdin) into SimpleSAMLphp's
// flat-file metadata/saml20-idp-remote.php with SimpleSAMLphp's own parser,
// as its admin "XML to SimpleSAMLphp metadata converter" page does.
// Usage: SIMPLESAMLPHP_CONFIG_DIR=<dir> php convert-idp-metadata.php < idp.xml
require_once('/usr/share/simplesamlphp/lib/_autoload.php');

$xml = stream_get_contents(STDIN);
$entities = \SimpleSAML\Metadata\SAMLParser::parseDescriptorsString($xml);
$out = "<?php\n// Generated from the IdP's metadata by convert-idp-metadata.php.\n";
$n = 0;
foreach ($entities as $entityID => $entity) {
    $md = $entity->getMetadata20IdP();
    if ($md === null) {
        continue;
    }
    unset($md['entityDescriptor'], $md['expire']);
    $out .= '$metadata[' . var_export($entityID, true) . '] = ' . var_export($md, true) . ";\n";
    $n++;
}
if ($n === 0) {
    fwrite(STDERR, "no IdPSSODescriptor in the metadata\n");
    exit(1);
}
echo $out;
