-- Tessera ground: a top-down LÖVE scene whose ground materials are generated while you play.
-- Walk with WASD or the arrow keys; new ground is generated ahead of you (placeholders show the
-- progress until a chunk is ready) by Tessera, a texture diffusion model, through its C API
-- (tessera.lua, LuaJIT FFI). Each frame gives Tessera one non-blocking tick within a GPU budget
-- (tsr_tick_async), so the frame rate does not wait for the model.
--
--   love examples/love [options]     (--help prints this)
--     --model FILE        model (default: models/material.safetensors of this checkout)
--     --lib FILE          libtessera.so (default: $TESSERA_LIB, else build/libtessera.so of this
--                         checkout if built, else the system's library search)
--     --device NAME       Tessera's Vulkan device, index or name part (default: the best one)
--     --steps N           sampler steps per chunk (default 12)
--     --size N            texture size in pixels (default or 0: the model's training size)
--     --budget MS         GPU time per frame for Tessera (default 4)
--     --in-flight N       jobs in Tessera at once (default 2)
--     --fps N             frame cap, as vsync would give (default 60; 0 = none)
--     --seed N            the world's seed (default 1)
--   autopilot (tests, screenshots): the player walks a fixed path at a fixed speed per frame
--     --frames N          walk N frames, wait until the view's ground is ready, save the
--                         screenshot, run 30 frames without generation (to compare), print the
--                         chunks in view and frame-time statistics, and exit
--     --screenshot FILE   where the screenshot goes (PNG; default tessera-ground.png)
--     --timeout S         exit 1 when not done S seconds after the start (default 600)
--   Errors end the autopilot with a message and status 1; a bad option exits with status 2.
local tessera = require("tessera")
local Ground = require("ground")

local options = {
  model = nil, lib = nil, device = nil, steps = 12, size = nil, budget = 4, in_flight = 2, fps = 60,
  seed = 1, frames = nil, screenshot = "tessera-ground.png", timeout = 600,
}
local KNOWN = { model = "path", lib = "path", device = "name", screenshot = "path" }
for _, name in ipairs({ "steps", "size", "budget", "in_flight", "fps", "seed", "frames", "timeout" }) do
  KNOWN[name] = "number"
end

local function fail(message)
  io.stderr:write("tessera-ground: " .. message .. "\n")
  love.event.quit(2)
end

-- The usage: this file's opening comment, so that it is written once.
local function usage()
  local lines = {}
  for line in love.filesystem.lines("main.lua") do
    if not line:match("^%-%-") then break end
    lines[#lines + 1] = (line:gsub("^%-%- ?", ""))
  end
  return table.concat(lines, "\n")
end

local function parse_options(args)
  local i = 1
  while i <= #args do
    if args[i] == "--help" then return nil, true end
    local name = args[i]:match("^%-%-([%w-]+)$")
    local field = name and name:gsub("-", "_")
    if not field or not KNOWN[field] then
      return ("unknown option '%s' (--help lists them)"):format(args[i]:sub(1, 64))
    end
    local value = args[i + 1]
    if value == nil then return ("option --%s needs a value"):format(name) end
    if KNOWN[field] == "number" then
      local number = tonumber(value)
      if not number or number < 0 or (field ~= "budget" and number % 1 ~= 0) then
        return ("--%s must be a non-negative %s, not '%s'"):format(name, field == "budget" and "number" or "integer",
          value:sub(1, 64))
      end
      value = number
    end
    options[field] = value
    i = i + 2
  end
  if options.budget <= 0 then return "--budget must be above 0 ms" end
  if options.in_flight < 1 then return "--in-flight must be at least 1" end
end

-- This file's folder: the checkout's model and build are found from here.
local function checkout_path(relative)
  return love.filesystem.getSource() .. "/../../" .. relative
end

local function file_exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

local ctx, model, ground, shader, font
local player = { x = 0, y = 0, dir = 0, speed = 180 }
local WALK = { { 0, 0 }, { 700, 0 }, { 700, 420 }, { 1300, 700 }, { 1300, 1400 } } -- autopilot path
local walk_leg, frame = 1, 0
local stats = { frame_ms = {}, work_ms_generating = {}, work_ms_idle = {}, tick_ms = {}, tick_cpu_ms = {},
  upload_ms = {} }
local screenshot_frame -- the frame the screenshot was taken at
local start_time

-- The player's velocity this frame: the autopilot's path, else the keys.
local function steer(dt)
  if options.frames then
    if frame > options.frames or walk_leg >= #WALK then return 0, 0 end
    local target = WALK[walk_leg + 1]
    local dx, dy = target[1] - player.x, target[2] - player.y
    local d = math.sqrt(dx * dx + dy * dy)
    if d < player.speed * dt then
      walk_leg = walk_leg + 1
      return dx / dt, dy / dt
    end
    return dx / d * player.speed, dy / d * player.speed
  end
  local k = love.keyboard.isDown
  local vx = ((k("d") or k("right")) and 1 or 0) - ((k("a") or k("left")) and 1 or 0)
  local vy = ((k("s") or k("down")) and 1 or 0) - ((k("w") or k("up")) and 1 or 0)
  local n = math.sqrt(vx * vx + vy * vy)
  if n == 0 then return 0, 0 end
  return vx / n * player.speed, vy / n * player.speed
end

local function view_origin()
  local w, h = love.graphics.getDimensions()
  return player.x - w / 2, player.y - h / 2, w, h
end

local function summary(values)
  local sorted, sum = {}, 0
  for i, v in ipairs(values) do sorted[i], sum = v, sum + v end
  table.sort(sorted)
  if #sorted == 0 then return "n 0" end
  return ("mean %.2f p95 %.2f max %.2f"):format(sum / #sorted, sorted[math.ceil(#sorted * 0.95)], sorted[#sorted])
end

local function report_stats()
  return ("frames %d chunks_generated %d steps %d | frame_ms %s | work_ms generating %s | work_ms idle %s | "
    .. "tick_ms %s | tick_cpu_ms %s | upload_ms %s"):format(frame, ground.generated, ground.steps_run,
    summary(stats.frame_ms), summary(stats.work_ms_generating), summary(stats.work_ms_idle), summary(stats.tick_ms),
    summary(stats.tick_cpu_ms), summary(stats.upload_ms))
end

-- Wanted: the view, half a chunk around it, and where the player will be in a second.
local function want_ground(vx, vy)
  local ox, oy, w, h = view_origin()
  local m = ground.chunk_px / 2
  ground:want(math.min(ox, ox + vx) - m, math.min(oy, oy + vy) - m, math.max(ox, ox + vx) + w + m,
    math.max(oy, oy + vy) + h + m, player.x + vx, player.y + vy, 3)
end

-- The autopilot's end: once the walk is over and the view's ground is ready, the screenshot;
-- then IDLE_FRAMES frames without generation (the frame time without Tessera, for comparison).
local IDLE_FRAMES = 30
local function autopilot()
  if ground.failed then error(("%d chunk(s) failed to generate"):format(ground.failed), 0) end
  local ox, oy, w, h = view_origin()
  if not screenshot_frame and frame > options.frames and ground:ready_in(ox, oy, ox + w - 1, oy + h - 1) then
    screenshot_frame = frame
    love.graphics.captureScreenshot(function(image)
      local f = assert(io.open(options.screenshot, "wb"))
      f:write(image:encode("png"):getString())
      f:close()
    end)
    for _, line in ipairs(ground:describe_view(ox, oy, w, h)) do print(line) end
  elseif screenshot_frame and frame > screenshot_frame and #stats.work_ms_idle >= IDLE_FRAMES then
    print(report_stats())
    love.event.quit(0)
  elseif love.timer.getTime() - start_time > options.timeout then
    error(("not done after %d s: %d chunks generated, %s"):format(options.timeout, ground.generated,
      screenshot_frame and "the screenshot taken" or "the view's ground not ready"), 0)
  end
end

function love.load(args)
  io.stdout:setvbuf("line")
  local problem, help = parse_options(args)
  if problem then return fail(problem) end
  if help then
    print(usage())
    return love.event.quit(0)
  end
  if options.frames then
    -- Autopilot runs unattended: an error ends it with a message and status 1, never a dialog.
    love.errorhandler = function(message)
      io.stderr:write("tessera-ground: error: " .. tostring(message) .. "\n" .. debug.traceback() .. "\n")
      pcall(love.quit) -- Tessera's GPU work must end before the process does
      return function() return 1 end
    end
  end
  local lib = options.lib or os.getenv("TESSERA_LIB")
  if not lib and file_exists(checkout_path("build/libtessera.so")) then lib = checkout_path("build/libtessera.so") end
  tessera.open(lib)
  print("struct sizes " .. tessera.struct_sizes())

  local model_path = options.model or checkout_path("models/material.safetensors")
  ctx = tessera.create_context(options.device)
  local info, classes
  model, info, classes = tessera.load_model(ctx, model_path)
  local size = (options.size or 0) > 0 and options.size or info.train_resolution
  print(("device %s; model %s: %d classes, %dx%d, maps 0x%x"):format(tessera.device_name(ctx), model_path,
    info.class_count, size, size, info.map_mask))

  local repeats = 2
  ground = Ground.new({
    ctx = ctx, model = model, info = info, classes = classes, size = size, steps = options.steps,
    in_flight = options.in_flight, repeats = repeats, chunk_px = size * repeats * 3, seed = options.seed,
    normal_strength = 0,
  })
  -- The first chunks are queued and their samplers built now, while the window shows nothing:
  -- on a context's first use that also compiles Tessera's pipelines (seconds without a cache).
  want_ground(0, 0)
  ground:submit_next()
  ground:prepare_submitted()
  shader = love.graphics.newShader("lit_ground.glsl")
  shader:send("light_radius", 420)
  shader:send("relief", 24)
  font = love.graphics.newFont(12)
  start_time = love.timer.getTime()
end

function love.update(dt)
  if not ground then return end -- love.load failed: the quit event is on its way
  frame = frame + 1
  -- The autopilot walks a fixed distance per frame, so its path is the same on any machine.
  local step_dt = options.frames and 1 / 60 or math.min(dt, 0.1)
  local vx, vy = steer(step_dt)
  player.x, player.y = player.x + vx * step_dt, player.y + vy * step_dt
  if vx ~= 0 or vy ~= 0 then player.dir = math.atan2(vy, vx) end
  want_ground(vx, vy)
  local tick_ms, tick_cpu_ms, upload_ms = ground:update(options.budget)
  if frame > 2 then -- the first frames load shaders: not what a player sees
    table.insert(stats.tick_ms, tick_ms)
    table.insert(stats.tick_cpu_ms, tick_cpu_ms)
    table.insert(stats.upload_ms, upload_ms)
  end
  if options.frames then autopilot() end
end

function love.draw()
  if not ground then return end
  local ox, oy, w, h = view_origin()
  shader:send("light_pos", { w / 2, h / 2, 110 })
  ground:draw(shader, ox, oy, w, h, font)

  -- The player: a shadow, a body and the direction it faces.
  local px, py = w / 2, h / 2
  love.graphics.setColor(0, 0, 0, 0.35)
  love.graphics.ellipse("fill", px + 4, py + 6, 15, 11)
  love.graphics.setColor(0.95, 0.78, 0.32)
  love.graphics.circle("fill", px, py, 13)
  love.graphics.setColor(0.35, 0.2, 0.08)
  love.graphics.circle("line", px, py, 13)
  love.graphics.line(px, py, px + math.cos(player.dir) * 13, py + math.sin(player.dir) * 13)

  love.graphics.setColor(0, 0, 0, 0.55)
  love.graphics.rectangle("fill", 8, 8, 300, 38, 4)
  love.graphics.setColor(1, 1, 1)
  love.graphics.setFont(font)
  love.graphics.print(("%d fps   chunks generated %d   in Tessera %d"):format(love.timer.getFPS(), ground.generated,
    ground.submitted), 16, 12)
  love.graphics.print("WASD / arrows: walk   Esc: quit   ground by Tessera", 16, 28)
end

function love.keypressed(key)
  if key == "escape" then love.event.quit(0) end
end

function love.quit()
  if ground then ground:destroy() end
  if ctx then tessera.destroy_context(ctx) end
  ground, ctx = nil, nil
end

-- LÖVE's own loop, with a frame cap (--fps) where vsync would hold it (Xvfb has no vsync), and
-- the timings the autopilot reports: frame_ms from frame start to frame start, work_ms what the
-- frame itself took (events, update, draw, present) before it waits for the cap, apart for the
-- frames that began with jobs in Tessera (generating) and those that began without (idle).
function love.run()
  love.load(love.arg.parseGameArguments(arg), arg)
  love.timer.step()
  local next_frame = love.timer.getTime()
  return function()
    local start = love.timer.getTime()
    love.event.pump()
    for name, a, b, c, d, e, f in love.event.poll() do
      if name == "quit" and (not love.quit or not love.quit()) then return a or 0 end
      love.handlers[name](a, b, c, d, e, f)
    end
    local dt = love.timer.step()
    local generating = ground and ground.submitted > 0
    love.update(dt)
    if love.graphics.isActive() then
      love.graphics.origin()
      love.graphics.clear(0.1, 0.1, 0.12)
      love.draw()
      love.graphics.present()
    end
    if frame > 2 then
      table.insert(stats.frame_ms, dt * 1000)
      table.insert(generating and stats.work_ms_generating or stats.work_ms_idle, (love.timer.getTime() - start) * 1000)
    end
    if options.fps > 0 then
      next_frame = math.max(next_frame + 1 / options.fps, love.timer.getTime())
      love.timer.sleep(next_frame - love.timer.getTime())
    else
      love.timer.sleep(0.001)
    end
  end
end
