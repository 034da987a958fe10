package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestZeroRoundsIsRefused(t *testing.T) {
	ok := config{rounds: 10, conns: 64, duration: 10 * time.Second}
	require.NoError(t, ok.validate())

	bad := ok
	bad.rounds = 0
	err := bad.validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "-rounds 0: must be at least 1")
	assert.Error(t, run(bad), "run refuses it before dividing the duration by it")
}
