package api

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/setbridge/setbridge/ivr"
)

func do(t *testing.T, h http.Handler, method, path, body, remote, key string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr = remote
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	raw, _ := io.ReadAll(rec.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	if strings.Contains(string(raw), "pbkdf2") || strings.Contains(string(raw), "2468") {
		t.Fatalf("%s %s leaks a PIN or its hash: %s", method, path, raw)
	}
	return rec.Code, out
}

const local = "127.0.0.1:40000"

func TestRoomsAPI(t *testing.T) {
	rooms := NewRooms()
	h := NewHandler(Config{Rooms: rooms, DialIn: []DialIn{{Number: "1000", Room: "demo"}, {Number: "2000", IVR: true}},
		Participants: func(string) int { return 3 }})
	if _, err := rooms.Create(RoomSpec{ID: "demo", ConferenceNumber: "1000"}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		method   string
		path     string
		body     string
		wantCode int
		check    func(t *testing.T, out map[string]any)
	}{
		{"a room with a PIN is created and its PIN is not shown", "POST", "/api/rooms", `{"id":"board","conference_number":"4321","pin":"2468"}`, 201,
			func(t *testing.T, out map[string]any) {
				if out["pin_required"] != true || out["conference_number"] != "4321" {
					t.Fatalf("got %v", out)
				}
			}},
		{"the same id again conflicts", "POST", "/api/rooms", `{"id":"board"}`, 409, nil},
		{"a taken conference number conflicts", "POST", "/api/rooms", `{"id":"other","conference_number":"4321"}`, 409, nil},
		{"a PIN that is not digits is refused", "POST", "/api/rooms", `{"id":"x","pin":"12a"}`, 400, nil},
		{"unknown fields are refused", "POST", "/api/rooms", `{"id":"x","pn":"1"}`, 400, nil},
		{"the list holds both rooms", "GET", "/api/rooms", "", 200, func(t *testing.T, out map[string]any) {
			if rs := out["rooms"].([]any); len(rs) != 2 {
				t.Fatalf("got %v", out)
			}
		}},
		{"a dialled number maps to its room", "GET", "/api/mapper/numbers/1000", "", 200, func(t *testing.T, out map[string]any) {
			if out["room"] != "demo" || out["ivr"] != false {
				t.Fatalf("got %v", out)
			}
		}},
		{"a conference number maps to its room", "GET", "/api/mapper/numbers/4321", "", 200, func(t *testing.T, out map[string]any) {
			if out["room"] != "board" || out["pin_required"] != true {
				t.Fatalf("got %v", out)
			}
		}},
		{"a room maps to its dial-in numbers", "GET", "/api/mapper/rooms/board", "", 200, func(t *testing.T, out map[string]any) {
			d := out["dial_in"].([]any)
			if len(d) != 1 || d[0].(map[string]any)["number"] != "2000" || d[0].(map[string]any)["conference_number"] != "4321" {
				t.Fatalf("got %v", out)
			}
		}},
		{"an unknown number is not found", "GET", "/api/mapper/numbers/999", "", 404, nil},
		{"a room is deleted", "DELETE", "/api/rooms/board", "", 204, nil},
		{"and is gone", "GET", "/api/rooms/board", "", 404, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := do(t, h, tt.method, tt.path, tt.body, local, "")
			if code != tt.wantCode {
				t.Fatalf("%s %s = %d %v, want %d", tt.method, tt.path, code, out, tt.wantCode)
			}
			if tt.check != nil {
				tt.check(t, out)
			}
		})
	}
	if _, ok := rooms.Lookup("4321"); ok {
		t.Fatal("the IVR still finds a deleted room")
	}
}

func TestRoomsCreatedByAPIAreFoundByTheIVRWithHashedPINs(t *testing.T) {
	rooms := NewRooms()
	h := NewHandler(Config{Rooms: rooms})
	if code, _ := do(t, h, "POST", "/api/rooms", `{"id":"board","conference_number":"4321","pin":"2468"}`, local, ""); code != 201 {
		t.Fatal(code)
	}
	r, ok := rooms.Lookup("4321")
	if !ok || r.ID != "board" || !ivr.VerifyPIN(r.ParticipantPINHash, "2468") || ivr.VerifyPIN(r.ParticipantPINHash, "2469") {
		t.Fatalf("IVR view %+v", r)
	}
}

func TestAPIAccess(t *testing.T) {
	rooms := NewRooms()
	open := NewHandler(Config{Rooms: rooms})
	if code, _ := do(t, open, "GET", "/api/rooms", "", "192.0.2.1:5000", ""); code != 403 {
		t.Fatalf("a remote client without keys configured got %d, want 403", code)
	}
	keyed := NewHandler(Config{Rooms: rooms, Keys: []string{"k1"}})
	if code, _ := do(t, keyed, "GET", "/api/rooms", "", "192.0.2.1:5000", ""); code != 401 {
		t.Fatalf("no key: %d, want 401", code)
	}
	if code, _ := do(t, keyed, "GET", "/api/rooms", "", "192.0.2.1:5000", "wrong"); code != 401 {
		t.Fatalf("wrong key: %d, want 401", code)
	}
	if code, _ := do(t, keyed, "GET", "/api/rooms", "", "192.0.2.1:5000", "k1"); code != 200 {
		t.Fatalf("right key: %d, want 200", code)
	}
}

func TestLockedRoomsAreLockedForTheIVR(t *testing.T) {
	rooms := NewRooms()
	h := NewHandler(Config{Rooms: rooms})
	do(t, h, "POST", "/api/rooms", `{"id":"board","conference_number":"4321"}`, local, "")
	if code, out := do(t, h, "POST", "/api/rooms/board/lock", "", local, ""); code != 200 || out["locked"] != true {
		t.Fatalf("lock: %d %v", code, out)
	}
	if r, _ := rooms.Lookup("4321"); !r.Locked {
		t.Fatal("the IVR does not see the lock")
	}
	if code, out := do(t, h, "POST", "/api/rooms/board/unlock", "", local, ""); code != 200 || out["locked"] != false {
		t.Fatalf("unlock: %d %v", code, out)
	}
	if code, _ := do(t, h, "POST", "/api/rooms/nope/lock", "", local, ""); code != 404 {
		t.Fatalf("locking an unknown room: %d", code)
	}
}
