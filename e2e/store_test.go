package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/setbridge/setbridge/internal/peers"
)

// TestRoomsSurviveARestart: rooms made through the API, and a lock, are
// kept in the database (SQLite by default) and served again by the next
// process; a duplicate conference number is refused with 409.
func TestRoomsSurviveARestart(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { roomsSurvive(t, "") })
	t.Run("postgresql", func(t *testing.T) {
		dsn, stop, err := peers.StartPostgres()
		if err != nil {
			if os.Getenv("SETBRIDGE_REQUIRE_PG") == "1" {
				t.Fatalf("PostgreSQL required: %v", err)
			}
			t.Skipf("no PostgreSQL: %v", err)
		}
		defer stop()
		roomsSurvive(t, fmt.Sprintf("database: %q\n", dsn))
	})
}

func roomsSurvive(t *testing.T, cfg string) {
	dir := t.TempDir()
	s := startServerIn(t, dir, cfg)
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

	s2 := startServerIn(t, dir, cfg)
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
	s3 := startServerIn(t, dir, cfg)
	if code, _ := s3.get("/api/rooms/board"); code != 404 {
		t.Fatalf("a deleted room came back: %d", code)
	}
}
