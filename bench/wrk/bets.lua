-- wrk script: dice bets as the players whose bearer tokens are in the file
-- named by $TOKENS (one per line), in turn. Used by bench/generators.sh.
local tokens = {}
for line in io.lines(os.getenv("TOKENS")) do
  tokens[#tokens + 1] = line
end
local body = '{"currency":"CHIP","stake":1,"params":{"target":50.5,"direction":"over"}}'
local i = 0

request = function()
  i = i % #tokens + 1
  return wrk.format("POST", "/v1/games/dice/bets", {
    ["Authorization"] = "Bearer " .. tokens[i],
    ["Content-Type"] = "application/json",
  }, body)
end
