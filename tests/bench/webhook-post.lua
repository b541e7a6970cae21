-- wrk script: POSTs Jira issue_updated webhooks, each a distinct event (timestamp and
-- changelog id vary), so every request commits new outbox rows. The first script argument
-- (`wrk ... -- RUN`) makes the events of each run distinct from those of earlier runs.
local counter = 0
local thread_id = 0
local run = 0
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  thread_id = id
  run = tonumber(args[1] or "0")
end

request = function()
  counter = counter + 1
  local n = run * 1000000000 + thread_id * 100000000 + counter
  local body = '{"timestamp":' .. (1764100000000 + n) .. ',"webhookEvent":"jira:issue_updated",' ..
    '"issue_event_type_name":"issue_generic","user":{"name":"bob","key":"JIRAUSER10200","displayName":"Bob B"},' ..
    '"issue":{"id":"10045","key":"ABC-1","fields":{"summary":"Fix login"}},' ..
    '"changelog":{"id":"' .. n .. '","items":[{"field":"status","fromString":"Open","toString":"In Progress"}]}}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
