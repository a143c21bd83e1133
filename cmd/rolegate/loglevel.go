package main

import (
	"log/slog"
	"strings"

	"rolegate/store"
)

// envLogLevel is serve's --log-level from the environment.
const envLogLevel = "ROLEGATE_LOG_LEVEL"

const logLevelHelp = "least severe log lines written: debug (also sign-ins that succeed), info (requests, failed sign-ins with their reason), " +
	"warn (lockouts and refusals by the throttle), error (env " + envLogLevel + ")"

// logLevels are the levels serve takes by name; slog's "info+2" forms are not offered.
var logLevels = map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}

func parseLogLevel(s string) (slog.Level, error) {
	l, ok := logLevels[strings.ToLower(strings.TrimSpace(s))]
	if !ok {
		return 0, store.Errorf(store.Invalid, "invalid log level %q: use debug, info, warn or error", s)
	}
	return l, nil
}
