-- LÖVE's settings for the Tessera ground demo: one 800x600 window; no audio, joystick or physics
-- (none are used, and a machine without a sound card, like a CI runner under Xvfb, needs none).
function love.conf(t)
  t.identity = "tessera-ground"
  t.version = "11.4"
  t.window.title = "Tessera ground (LÖVE)"
  t.window.width = 800
  t.window.height = 600
  t.window.vsync = 1
  t.modules.audio = false
  t.modules.sound = false
  t.modules.joystick = false
  t.modules.physics = false
  t.modules.video = false
end
