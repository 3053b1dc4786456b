package e2e

import (
	"strings"
	"testing"
)

// TestRoomsSurviveARestart: rooms made through the API, and a lock, are
// kept in the database (SQLite by default) and served again by the next
// process; a duplicate conference number is refused with 409.
func TestRoomsSurviveARestart(t *testing.T) {
	dir := t.TempDir()
	s := startServerIn(t, dir, "")
	if code, out := apiJSON(t, s, "POST", "/api/rooms", map[string]string{"id": "board", "conference_number": "4321", "pin": "2468"}); code != 201 {
		t.Fatalf("create: %d %v", code, out)
	}
	if code, _ := apiJSON(t, s, "POST", "/api/rooms", map[string]string{"id": "other", "conference_number": "4321"}); code != 409 {
		t.Fatalf("a second room with number 4321: %d, want 409", code)
	}
	if code, _ := apiJSON(t, s, "POST", "/api/rooms/board/lock", nil); code != 200 && code != 204 {
		t.Fatalf("lock: %d", code)
	}
	s.stop()

	s2 := startServerIn(t, dir, "")
	code, body := s2.get("/api/rooms/board")
	if code != 200 || !strings.Contains(body, `"conference_number":"4321"`) || !strings.Contains(body, `"locked":true`) ||
		!strings.Contains(body, `"pin_required":true`) || strings.Contains(body, "2468") {
		t.Fatalf("after a restart, board is %d %s", code, body)
	}
	if code, body := s2.get("/api/mapper/numbers/4321"); code != 200 || !strings.Contains(body, "board") {
		t.Fatalf("mapper after a restart: %d %s", code, body)
	}
	if code, _ := apiJSON(t, s2, "DELETE", "/api/rooms/board", nil); code != 204 && code != 200 {
		t.Fatalf("delete: %d", code)
	}
	s2.stop()
	s3 := startServerIn(t, dir, "")
	if code, _ := s3.get("/api/rooms/board"); code != 404 {
		t.Fatalf("a deleted room came back: %d", code)
	}
}
