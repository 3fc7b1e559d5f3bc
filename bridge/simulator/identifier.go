package simulator

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/clavebridge/clavebridge/translate"
)

// nifLetters is the DNI/NIE check letter table: number modulo 23.
const nifLetters = "TRWAGMYFPDXBNJZSQVHLCKE"

// maxForeignID bounds a foreign identifier's length.
const maxForeignID = 64

// checkIdentifier checks c.ID: a DNI or NIE with a correct check letter for
// anyone who logs in through a Spanish identity provider, otherwise (EIDAS
// only) a plain foreign identifier.
func checkIdentifier(c Citizen) error {
	for _, p := range c.IdPs {
		if p != translate.IdPEIDAS {
			return checkNIF(c.ID)
		}
	}
	if c.ID == "" || len(c.ID) > maxForeignID || !isUpperAlnum(c.ID) {
		return fmt.Errorf("foreign id must be 1-%d letters and digits", maxForeignID)
	}
	return nil
}

// checkNIF checks a DNI (8 digits and a letter) or NIE (X, Y or Z, 7 digits
// and a letter), including the check letter.
func checkNIF(id string) error {
	if len(id) != 9 {
		return errors.New("id is not a DNI or NIE (9 characters)")
	}
	digits := id[:8]
	switch id[0] {
	case 'X', 'Y', 'Z':
		digits = string(rune('0'+(id[0]-'X'))) + id[1:8]
	}
	n, err := strconv.Atoi(digits)
	if err != nil || !isDigits(digits) {
		return errors.New("id is not a DNI or NIE (digits expected)")
	}
	if want := nifLetters[n%23]; id[8] != want {
		return fmt.Errorf("id has a wrong check letter (want %c)", want)
	}
	return nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func isUpperAlpha(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return s != ""
}

func isUpperAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		if (s[i] < 'A' || s[i] > 'Z') && (s[i] < '0' || s[i] > '9') {
			return false
		}
	}
	return s != ""
}
