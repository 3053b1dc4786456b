package webrtc

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// pionLogs routes pion's logs to slog. pion's warnings can come once per
// packet (an unknown SSRC, a failed decrypt), so everything below Error
// goes to Debug and Error to Warn.
type pionLogs struct{ log *slog.Logger }

func (f pionLogs) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{f.log.With("pion", scope)}
}

type pionLogger struct{ log *slog.Logger }

func (l pionLogger) logf(level slog.Level, format string, args ...any) {
	if !l.log.Enabled(context.Background(), level) {
		return
	}
	l.log.Log(context.Background(), level, fmt.Sprintf(format, args...))
}

func (l pionLogger) Trace(string)                   {}
func (l pionLogger) Tracef(string, ...any)          {}
func (l pionLogger) Debug(msg string)               { l.logf(slog.LevelDebug, "%s", msg) }
func (l pionLogger) Debugf(format string, a ...any) { l.logf(slog.LevelDebug, format, a...) }
func (l pionLogger) Info(msg string)                { l.logf(slog.LevelDebug, "%s", msg) }
func (l pionLogger) Infof(format string, a ...any)  { l.logf(slog.LevelDebug, format, a...) }
func (l pionLogger) Warn(msg string)                { l.logf(slog.LevelDebug, "%s", msg) }
func (l pionLogger) Warnf(format string, a ...any)  { l.logf(slog.LevelDebug, format, a...) }
func (l pionLogger) Error(msg string)               { l.logf(slog.LevelWarn, "%s", msg) }
func (l pionLogger) Errorf(format string, a ...any) { l.logf(slog.LevelWarn, format, a...) }
