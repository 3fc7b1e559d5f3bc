package server

import "github.com/clavebridge/clavebridge/internal/attacks"

// The XML-signature variants of bridge/samlxml/attacks, under the class
// names of the suite's table.
func init() {
	libEvilMarker = attacks.EvilMarker
	names := map[attacks.Class]string{
		attacks.XSW: "XSW", attacks.MultipleAssertions: "MultipleAssertions", attacks.CommentInjection: "CommentInjection",
		attacks.SignatureExclusion: "SignatureExclusion", attacks.CertificateFaking: "CertificateFaking", attacks.DTD: "DTD",
		attacks.Size: "Size", attacks.AlgorithmDowngrade: "AlgorithmDowngrade", attacks.ParserDifferential: "ParserDifferential",
		attacks.TransformAbuse: "TransformAbuse", attacks.KeyConfusion: "KeyConfusion",
	}
	libraryVariants = func(k libKeys) []libVariant {
		var out []libVariant
		for _, v := range attacks.Variants(attacks.Keys{
			Attacker: k.Attacker, AttackerCert: k.AttackerCert, Victim: k.Victim, Trusted: k.Trusted, TrustedCert: k.TrustedCert,
		}) {
			class := names[v.Class]
			if class == "" {
				class = string(v.Class)
			}
			out = append(out, libVariant{Class: class, Name: v.Name, Apply: v.Apply})
		}
		return out
	}
}
