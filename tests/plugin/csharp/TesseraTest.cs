// Run by PluginHosts.CSharpBindingDrivesTheLibrary: compiled with mcs together with
// plugin/bindings/csharp/Tessera.cs and run with mono against the built libtessera.so, as a
// Unity/Godot C# host would use it. Prints struct sizes and the result's bytes for the C++
// side to check; exits non-zero on the first failure.
using System;
using System.Runtime.InteropServices;
using System.Text;
using Tessera;

static class TesseraTest
{
    static int failures = 0;

    static void Expect(bool ok, string what)
    {
        if (!ok) { Console.WriteLine("FAIL: " + what); failures++; }
    }

    static void ExpectError(Result code, string part, Action action)
    {
        try { action(); Expect(false, "expected " + code + " (" + part + ")"); }
        catch (TesseraException e)
        {
            Expect(e.Code == code, "expected " + code + ", got " + e.Code + ": " + e.Message);
            Expect(e.Message.Contains(part), "message '" + e.Message + "' lacks '" + part + "'");
        }
    }

    static int Main(string[] args)
    {
        Console.WriteLine("sizes context_desc={0} vulkan_device={1} model_desc={2} model_info={3} generate_desc={4} tick_stats={5} vk_image={6} vk_image_copy_desc={7} memory_info={8}",
            Marshal.SizeOf(typeof(Native.ContextDesc)), Marshal.SizeOf(typeof(Native.VulkanDevice)),
            Marshal.SizeOf(typeof(Native.ModelDesc)), Marshal.SizeOf(typeof(Native.ModelInfo)),
            Marshal.SizeOf(typeof(Native.GenerateDesc)), Marshal.SizeOf(typeof(Native.TickStats)),
            Marshal.SizeOf(typeof(Native.VkImageResult)), Marshal.SizeOf(typeof(Native.VkImageCopyDesc)),
            Marshal.SizeOf(typeof(Native.MemoryInfo)));
        Expect(Native.tsr_get_version() >> 22 == Native.VersionMajor, "ABI major version");
        int validationMessages = 0;
        using (var ctx = new Context((level, message) =>
        {
            if (message.Contains("vulkan validation")) { validationMessages++; Console.WriteLine(message); }
        }))
        {
            Expect(ctx.DeviceName.Length > 0, "device name");
            ulong empty = ctx.Memory.deviceBytesInUse;
            using (var model = ctx.LoadModel(args[0]))
            {
                var memory = ctx.Memory;
                Expect(memory.deviceBytesInUse > empty && memory.deviceLocalHeapBytes > 0, "memory of the loaded model");
                var info = model.Info;
                Expect(info.classCount == 2 && info.trainResolution == 16 && info.sizeMultiple == 2, "model info");
                Expect(model.ClassName(1) == "wood", "class name");
                ExpectError(Result.UnknownClass, "unknown class 'lava'", () => ctx.Submit(model, new GenerateOptions { ClassName = "lava" }));
                ExpectError(Result.InvalidSize, "not a multiple of 2", () => ctx.Submit(model, new GenerateOptions { Width = 15 }));
                ExpectError(Result.Io, "cannot open", () => ctx.LoadModel("/nonexistent/model.safetensors"));
                ExpectError(Result.InvalidModel, "<model in memory>", () => ctx.LoadModel(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9 }));
                // The binding passes its arrays' sizes: a short init image is refused, not overread.
                ExpectError(Result.BufferTooSmall, "init_rgba_size is 256", () => ctx.Submit(model, new GenerateOptions { InitRgba = new byte[8 * 8 * 4] }));
                // Strength defaults to 0 as in C: img2img without a strength re-runs nothing.
                Expect(new GenerateOptions().Strength == 0.0f, "GenerateOptions.Strength defaults to 0, as tsr_generate_desc.strength");
                using (var keep = ctx.Submit(model, new GenerateOptions { InitRgba = new byte[16 * 16 * 4] }))
                {
                    uint keptDone, keptTotal;
                    keep.Progress(out keptDone, out keptTotal);
                    Expect(keptTotal == 0, "img2img at the default strength runs no step, got " + keptTotal);
                }

                var job = ctx.Submit(model, new GenerateOptions { ClassName = "wood", Seed = 77, Steps = 3 });
                int frames = 0;
                byte[] preview = job.ReadPreview(16, 16);
                Expect(preview == null, "no preview before the first step");
                while (job.Pending && frames < 100)
                {
                    var stats = ctx.Tick(4.0);
                    Expect(stats.stepsRun >= 1, "every tick runs a step");
                    frames++;
                }
                Expect(job.Status == JobStatus.Done, "job done");
                uint done, total;
                job.Progress(out done, out total);
                Expect(done == 3 && total == 3, "progress 3/3");
                byte[] pixels = job.ReadPixels(16, 16);
                Expect(model.Info.mapMask == 1, "an RGB model gives albedo only");
                Expect(Convert.ToBase64String(job.ReadMap(Map.Albedo, 16, 16)) == Convert.ToBase64String(pixels),
                       "ReadPixels is the albedo map");
                ExpectError(Result.InvalidArgument, "no height map", () => job.ReadMap(Map.Height, 16, 16));
                // The same job prepared and run with non-blocking ticks: the same pixels.
                using (var again = ctx.Submit(model, new GenerateOptions { ClassName = "wood", Seed = 77, Steps = 3 }))
                {
                    again.Prepare();
                    var watch = System.Diagnostics.Stopwatch.StartNew();  // a hang detector only
                    while (again.Pending && watch.Elapsed.TotalSeconds < 120)
                    {
                        ctx.TickAsync(4.0);
                        System.Threading.Thread.Sleep(1);  // a frame
                    }
                    Expect(again.Status == JobStatus.Done, "async job done");
                    Expect(Convert.ToBase64String(again.ReadPixels(16, 16)) == Convert.ToBase64String(pixels),
                           "async ticks give the same pixels");
                }
                var hex = new StringBuilder();
                foreach (byte b in pixels) hex.Append(b.ToString("x2"));
                Console.WriteLine("pixels " + hex);
                ExpectError(Result.Unsupported, "host's device", () => { var unused = job.VulkanImage; });
                var copy = new Native.VkImageCopyDesc();
                copy.structSize = (uint)Marshal.SizeOf(typeof(Native.VkImageCopyDesc));
                copy.image = 1;
                copy.format = 37;
                ulong semaphore, waitValue;
                Expect(Native.tsr_job_copy_to_vk_image(job.Handle, ref copy, out semaphore, out waitValue) == Result.Unsupported,
                       "copy into a VkImage needs the host's device: " + Native.LastError());
                var destroyed = job.Handle;
                job.Dispose();
                JobStatus status;
                Expect(Native.tsr_job_get_status(destroyed, out status) == Result.InvalidHandle, "status of a destroyed job");
                Expect(Native.LastError().Contains("already destroyed"), "stale handle message: " + Native.LastError());
                Expect(Native.tsr_job_destroy(destroyed) == Result.InvalidHandle, "double destroy refused");
            }
        }
        Expect(validationMessages == 0, "no validation messages");
        var stale = new Native.TickStats();
        stale.structSize = (uint)Marshal.SizeOf(typeof(Native.TickStats));
        Expect(Native.tsr_tick(new Native.ContextHandle { id = 1ul | (1ul << 32) }, 4.0, ref stale) == Result.InvalidHandle,
               "tick on a destroyed context");
        var staleMemory = new Native.MemoryInfo();
        staleMemory.structSize = (uint)Marshal.SizeOf(typeof(Native.MemoryInfo));
        Expect(Native.tsr_context_get_memory(new Native.ContextHandle { id = 1ul | (1ul << 32) }, ref staleMemory) == Result.InvalidHandle,
               "memory of a destroyed context");
        Console.WriteLine(failures == 0 ? "OK" : failures + " failures");
        return failures == 0 ? 0 : 1;
    }
}
