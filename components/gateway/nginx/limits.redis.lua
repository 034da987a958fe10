-- Admission of one request against its tenant's limits, atomically, in one round trip
-- (EVALSHA; limits.lua sends it). Every counter is a hash whose fields are period numbers:
-- a sliding minute counts in buckets (field = bucket number), a budget per calendar day or
-- month (UTC; field = day or month number). Time is Redis's own (TIME), so gateway clocks
-- never disagree.
--
-- KEYS[i]: one counter per limit. ARGV[1]: the sliding window in seconds, ARGV[2]: its
-- buckets, ARGV[3]: the gateway workers sharing the limits (pods x workers), ARGV[4]: how long
-- a lease lasts (s); then per limit four values: period (1 sliding, 2 day, 3 month), amount,
-- cost, lease wanted.
-- A limit refuses when what it has counted + 1 exceeds its amount; if none refuses, every
-- limit is charged its cost (1 for requests, the estimate for tokens) plus the lease it grants:
-- units the asking worker may admit on its own for a moment (limits.lua), at most half of
-- what is left divided among the workers, so leases shrink to nothing as the limit nears and
-- never let more through than the amount. Budgets want none. A lease is counted in the bucket
-- its last unit may be admitted in (now + the lease's time), so every unit counts for a whole
-- window after it is admitted.
-- Returns { admitted (1/0), refusing limit (0: none), retry after (ms), bucket, day, month,
--           then per limit: counted after charging, ms until everything counted has left,
--           lease granted; then the leases' bucket }.
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local win, nb, sharers = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local bw = win / nb
local cur = math.floor(now / bw)
local lease_bucket = math.floor((now + tonumber(ARGV[4])) / bw)
local day = math.floor(now / 86400)

-- days_from_civil / civil_from_days (H. Hinnant's algorithms), UTC.
local function civil(d)
    local z = d + 719468
    local era = math.floor(z / 146097)
    local doe = z - era * 146097
    local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
    local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
    local mp = math.floor((5 * doy + 2) / 153)
    local m = mp < 10 and mp + 3 or mp - 9
    local y = yoe + era * 400
    if m <= 2 then y = y + 1 end
    return y, m
end
local function days(y, m)
    if m <= 2 then y = y - 1 end
    local era = math.floor(y / 400)
    local yoe = y - era * 400
    local mp = m > 2 and m - 3 or m + 9
    local doy = math.floor((153 * mp + 2) / 5)
    local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
    return era * 146097 + doe - 719468
end
local y, m = civil(day)
local month = y * 12 + m - 1
local ny, nm = y, m + 1
if nm > 12 then ny, nm = y + 1, 1 end
local month_end = days(ny, nm) * 86400

local n = #KEYS
local used, reset, field = {}, {}, {}
local refusing, retry = 0, 0
for i = 1, n do
    local key = KEYS[i]
    local kind = tonumber(ARGV[4 * i + 1])
    local amount = tonumber(ARGV[4 * i + 2])
    local u, r, wait = 0, 0, 0
    if kind == 1 then
        field[i] = cur
        local h = redis.call('HGETALL', key)
        local live = {}
        for j = 1, #h, 2 do
            local idx, v = tonumber(h[j]), tonumber(h[j + 1])
            -- Out of the window, or below zero (refunds that outlived a Redis that lost its
            -- data): nothing is counted there.
            if idx < cur - nb or v < 0 then
                redis.call('HDEL', key, h[j])
            elseif v ~= 0 then
                u = u + v
                live[#live + 1] = { idx, v }
            end
        end
        table.sort(live, function(a, b) return a[1] < b[1] end)
        if #live > 0 then
            r = (live[#live][1] + nb + 1) * bw - now
        end
        -- When enough of the oldest buckets have left to admit one more.
        local left = u
        for j = 1, #live do
            if left + 1 <= amount then break end
            left = left - live[j][2]
            wait = (live[j][1] + nb + 1) * bw - now
        end
    else
        local ends = (day + 1) * 86400
        field[i] = day
        if kind == 3 then
            field[i], ends = month, month_end
        end
        u = tonumber(redis.call('HGET', key, field[i]) or '0')
        if u < 0 then
            redis.call('HDEL', key, field[i])
            u = 0
        end
        r, wait = ends - now, ends - now
    end
    used[i], reset[i] = u, r
    if refusing == 0 and u + 1 > amount then
        refusing, retry = i, wait
    end
end

local out = { 0, refusing, math.ceil(retry * 1000), cur, day, month }
for i = 1, n do
    local kind = tonumber(ARGV[4 * i + 1])
    local grant = 0
    if refusing == 0 then
        local amount, cost = tonumber(ARGV[4 * i + 2]), tonumber(ARGV[4 * i + 3])
        local left = amount - used[i] - cost
        if left > 0 and kind == 1 then
            grant = math.min(tonumber(ARGV[4 * i + 4]), math.floor(left / (2 * sharers)))
        end
        redis.call('HINCRBY', KEYS[i], field[i], cost)
        if grant > 0 then
            redis.call('HINCRBY', KEYS[i], lease_bucket, grant)
        end
        used[i] = used[i] + cost + grant
        if kind == 1 then
            -- A later bucket (another worker's lease) may already hold units: the latest wins.
            reset[i] = math.max(reset[i], ((grant > 0 and lease_bucket or cur) + nb + 1) * bw - now)
            redis.call('PEXPIRE', KEYS[i], math.ceil((win + 2 * bw + tonumber(ARGV[4])) * 1000))
        else
            redis.call('PEXPIRE', KEYS[i], math.ceil((reset[i] + 86400) * 1000))
        end
    end
    out[#out + 1] = math.floor(used[i])
    out[#out + 1] = math.ceil(reset[i] * 1000)
    out[#out + 1] = grant
end
out[#out + 1] = lease_bucket
if refusing == 0 then
    out[1] = 1
end
return out
