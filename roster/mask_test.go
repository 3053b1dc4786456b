package roster

import "testing"

func TestMaskNumber(t *testing.T) {
	tests := []struct {
		name string
		give string
		want string
	}{
		{name: "a UK London number keeps +44 and 20", give: "+442079460123", want: "+44 20 **** 0123"},
		{name: "a UK mobile keeps +44 and 79", give: "+447911123456", want: "+44 79 **** 3456"},
		{name: "a NANP number keeps its area code", give: "+14155550123", want: "+1 415 *** 0123"},
		{name: "a German number keeps 2 area digits", give: "+4930123456789", want: "+49 30 ***** 6789"},
		{name: "a French number keeps 1 area digit", give: "+33142685300", want: "+33 1 **** 5300"},
		{name: "a Dutch number keeps 2 area digits", give: "+31201234567", want: "+31 20 *** 4567"},
		{name: "an Australian number keeps 1 area digit", give: "+61291234567", want: "+61 2 **** 4567"},
		{name: "a three digit country code is found", give: "+353861234567", want: "+353 86 *** 4567"},
		{name: "a Russian number has a one digit country code", give: "+74951234567", want: "+7 49 **** 4567"},
		{name: "00 counts as +", give: "00442079460123", want: "+44 20 **** 0123"},
		{name: "separators are ignored", give: "+44 (20) 7946-0123", want: "+44 20 **** 0123"},
		{name: "a national number keeps 3 digits", give: "02079460123", want: "020 **** 0123"},
		{name: "a short national number keeps fewer", give: "5550123", want: "5 ** 0123"},
		{name: "a short international number still hides 2 digits", give: "+4412345", want: "+44 1 ** 45"},
		{name: "a 6 digit extension is unchanged", give: "123456", want: "123456"},
		{name: "a 4 digit extension is unchanged", give: "2001", want: "2001"},
		{name: "a SIP user name is unchanged", give: "alice", want: "alice"},
		{name: "a masked number is unchanged", give: "+44 20 **** 0123", want: "+44 20 **** 0123"},
		{name: "anonymous is unchanged", give: "anonymous", want: "anonymous"},
		{name: "a lone plus is unchanged", give: "+", want: "+"},
		{name: "empty stays empty", give: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MaskNumber(tt.give); got != tt.want {
				t.Errorf("MaskNumber(%q) = %q, want %q", tt.give, got, tt.want)
			}
		})
	}
}

func FuzzMaskNumber(f *testing.F) {
	for _, s := range []string{"+442079460123", "+14155550123", "02079460123", "alice", "", "+", "00", "+4412345"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := MaskNumber(s)
		if digits, _, ok := numberDigits(s); ok && len(digits) > 6 {
			// The last 4 digits stay and at least 2 are hidden.
			n := 0
			for _, c := range got {
				if c == '*' {
					n++
				}
			}
			if n < 2 {
				t.Errorf("MaskNumber(%q) = %q hides %d digits", s, got, n)
			}
			if MaskNumber(got) != got {
				t.Errorf("MaskNumber(%q) = %q is masked again", s, got)
			}
		} else if got != s {
			t.Errorf("MaskNumber(%q) = %q, want it unchanged", s, got)
		}
	})
}
