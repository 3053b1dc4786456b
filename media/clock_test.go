package media

import (
	"testing"
	"time"
)

func TestFakeClockDeliversOneTickPerPeriod(t *testing.T) {
	c := NewFakeClock(time.Unix(0, 0))
	tk := c.NewTicker(FrameDuration)
	done := make(chan int)
	go func() {
		n := 0
		for range 10 {
			<-tk.C()
			n++
		}
		done <- n
	}()
	c.Advance(10 * FrameDuration)
	if n := <-done; n != 10 {
		t.Fatalf("got %d ticks, want 10", n)
	}
	tk.Stop()
	c.Advance(time.Second) // must not block on a stopped ticker
	fired := false
	c.AfterFunc(time.Second, func() { fired = true })
	stopped := c.AfterFunc(time.Second, func() { t.Error("stopped timer fired") })
	stopped.Stop()
	c.Advance(999 * time.Millisecond)
	if fired {
		t.Fatal("timer fired early")
	}
	c.Advance(time.Millisecond)
	if !fired {
		t.Fatal("timer did not fire")
	}
}
