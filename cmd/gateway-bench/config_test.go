package main

import (
	"encoding/json"
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

func TestChatBodyOfSize(t *testing.T) {
	for _, n := range []int{len(chatBody), 1000, 16384} {
		b, err := chatBodyOfSize(n)
		require.NoError(t, err)
		assert.Len(t, b, n)
		var v struct {
			Model    string
			Messages []struct{ Role, Content string }
		}
		require.NoError(t, json.Unmarshal(b, &v), "valid JSON at %d bytes", n)
		assert.Equal(t, "bench-model-b", v.Model)
		assert.Len(t, v.Messages, 2)
	}
	_, err := chatBodyOfSize(10)
	assert.Error(t, err)
}
