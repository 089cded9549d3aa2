// Tessera.cs - P/Invoke binding of the Tessera C API (plugin/include/tessera.h) for C# hosts
// (Unity, Godot C#, plain .NET/Mono). Two layers:
//   Tessera.Native  - the C functions and structs one to one (blittable, no allocations).
//   Tessera.Context / Model / Job - small IDisposable wrappers that check every result and throw
//                     TesseraException with tsr_get_last_error()'s text.
// Vulkan handles are IntPtr (VkInstance, VkPhysicalDevice, VkDevice) or ulong (non-dispatchable:
// VkImage, VkSemaphore), as Unity's native texture pointers are. The library is found as
// "tessera": libtessera.so / tessera.dll / libtessera.dylib next to the host or on the search path.
using System;
using System.Runtime.InteropServices;
using System.Text;

namespace Tessera
{
    public enum Result
    {
        Success = 0,
        NotReady = 1,
        InvalidArgument = -1,
        InvalidHandle = -2,
        UnknownClass = -3,
        InvalidSize = -4,
        InvalidModel = -5,
        Io = -6,
        Unsupported = -7,
        OutOfMemory = -8,
        BufferTooSmall = -9,
        JobCancelled = -10,
        JobFailed = -11,
        Vulkan = -12,
        DeviceLost = -13,
        Internal = -14,
    }

    public enum JobStatus { Queued = 0, Running = 1, Done = 2, Failed = 3, Cancelled = 4 }
    public enum SamplerKind { Default = 0, DpmPP2M = 1, Ddim = 2, Ddpm = 3 }
    // Since 1.3: tsr_map; ModelInfo.mapMask has bit (1 << map) per map a model's jobs give.
    public enum Map { Albedo = 0, Height = 1, Roughness = 2, Normal = 3 }
    public enum LogLevel { Info = 0, Warning = 1, Error = 2 }

    [Flags]
    public enum VulkanFeatures : uint { None = 0, TimelineSemaphore = 1, ShaderFloat16 = 2, Storage16Bit = 4 }

    [Flags]
    public enum ContextFlags : uint { None = 0, Validation = 1 }

    // tsr_arithmetic (since 1.4): Portable gives the same bits on every conformant device.
    public enum Arithmetic : uint { Default = 0, Fast = 1, Portable = 2 }

    public static class Native
    {
        const string Lib = "tessera";
        public const uint VersionMajor = 1;

        [StructLayout(LayoutKind.Sequential)] public struct ContextHandle { public ulong id; }
        [StructLayout(LayoutKind.Sequential)] public struct ModelHandle { public ulong id; }
        [StructLayout(LayoutKind.Sequential)] public struct JobHandle { public ulong id; }

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        public delegate void LogFn(IntPtr userData, LogLevel level, IntPtr message);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        public delegate void QueueLockFn(IntPtr userData);

        [StructLayout(LayoutKind.Sequential)]
        public struct VulkanDevice
        {
            public IntPtr instance, physicalDevice, device;
            public uint queueFamilyIndex, queueIndex;
            public VulkanFeatures features;
            public IntPtr lockQueue, unlockQueue, queueLockUserData; // function pointers (Marshal.GetFunctionPointerForDelegate)
            public IntPtr resultQueueFamilies;                       // const uint32_t*
            public uint resultQueueFamilyCount;
        }

        [StructLayout(LayoutKind.Sequential)]
        public struct ContextDesc
        {
            public uint structSize;
            public ContextFlags flags;
            public VulkanDevice vulkan;
            public IntPtr device;           // const char* (UTF-8), may be zero
            public IntPtr pipelineCacheDir; // const char* (UTF-8), may be zero
            public IntPtr log;              // tsr_log_fn
            public IntPtr logUserData;
            public Arithmetic arithmetic;   // since 1.4
        }

        [StructLayout(LayoutKind.Sequential)]
        public struct ModelDesc
        {
            public uint structSize;
            public IntPtr path; // const char* (UTF-8)
            public IntPtr data;
            public UIntPtr dataSize;
        }

        [StructLayout(LayoutKind.Sequential)]
        public struct ModelInfo
        {
            public uint structSize;
            public uint classCount, trainResolution, sizeMultiple;
            public ulong parameterCount;
            public uint mapMask; // since 1.3: bit (1 << Map) per map the model's jobs give
        }

        [StructLayout(LayoutKind.Sequential)]
        public struct GenerateDesc
        {
            public uint structSize;
            public ModelHandle model;
            public IntPtr className; // const char* (UTF-8), zero = classIndex
            public uint classIndex;
            public ulong seed;
            public uint width, height;
            public SamplerKind sampler;
            public uint steps;
            public float guidance, eta;
            public IntPtr initRgba;
            public uint initRowPitch;
            public float strength;
            public IntPtr mask;
            public uint maskRowPitch;
            public UIntPtr initRgbaSize; // since 1.2: bytes at initRgba (required with it)
            public UIntPtr maskSize;     // since 1.2: bytes at mask (required with it)
            public float maxStepGflop;   // since 1.2: most work of one step; 0 = 50 GFLOP, +inf = no limit
            public float normalStrength; // since 1.3: height range in texels of the normal map; 0 = 3
            public uint normalFlags;     // since 1.3: 1 = TSR_NORMAL_DIRECTX (+Y down)
        }

        [StructLayout(LayoutKind.Sequential)]
        public struct TickStats
        {
            public uint structSize;
            public uint stepsRun, jobsFinished, jobsPending;
            public double gpuMs;
            public double maxStepMs;
            public uint stepsSubmitted;  // since 1.2: steps left running by tsr_tick_async
            public uint busy;            // since 1.2: 1 = another thread held the context; nothing done
        }

        [StructLayout(LayoutKind.Sequential)]
        public struct MemoryInfo
        {
            public uint structSize;
            public ulong deviceBytesInUse;     // weights, running jobs' plans, result buffers and images
            public ulong deviceLocalHeapBytes; // the device's DEVICE_LOCAL heaps (an upper bound, not free memory)
        }

        [StructLayout(LayoutKind.Sequential)]
        public struct VkImageResult
        {
            public ulong image;   // VkImage
            public int format;    // VkFormat (37 = R8G8B8A8_UNORM)
            public int layout;    // VkImageLayout (5 = SHADER_READ_ONLY_OPTIMAL)
            public uint width, height;
            public ulong semaphore; // VkSemaphore (timeline)
            public ulong waitValue;
        }

        [StructLayout(LayoutKind.Sequential)]
        public struct VkImageCopyDesc
        {
            public uint structSize;
            public ulong image;      // the host's VkImage
            public int format;       // VkFormat: R8G8B8A8_UNORM (37), _SRGB (43) or _UINT (41)
            public int oldLayout;    // VkImageLayout now (0 = UNDEFINED, contents discarded)
            public int newLayout;    // VkImageLayout to leave it in (0 = SHADER_READ_ONLY_OPTIMAL, needs SAMPLED usage)
            public uint mipLevel, arrayLayer;
            public int x, y;
            // Since 1.2: the image as created (VkImageCreateInfo), checked before the copy.
            public uint width, height;        // extent of mip level 0
            public uint mipLevels, arrayLayers; // 0 = 1
            public uint usage;                // VkImageUsageFlags: TRANSFER_DST (2) and what the layouts need
        }

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern uint tsr_get_version();
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern IntPtr tsr_get_last_error();
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern IntPtr tsr_result_name(Result result);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Result tsr_context_create(ref ContextDesc desc, out ContextHandle context);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Result tsr_context_destroy(ContextHandle context);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Result tsr_context_get_device_name(ContextHandle context, byte[] name, UIntPtr capacity);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Result tsr_context_get_memory(ContextHandle context, ref MemoryInfo info);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Result tsr_model_load(ContextHandle context, ref ModelDesc desc, out ModelHandle model);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Result tsr_model_destroy(ModelHandle model);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Result tsr_model_get_info(ModelHandle model, ref ModelInfo info);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Result tsr_model_get_class_name(ModelHandle model, uint index, byte[] name, UIntPtr capacity);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Result tsr_generate_submit(ContextHandle context, ref GenerateDesc desc, out JobHandle job);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Result tsr_tick(ContextHandle context, double budgetMs, ref TickStats stats);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Result tsr_tick_async(ContextHandle context, double budgetMs, ref TickStats stats);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Result tsr_job_prepare(JobHandle job);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Result tsr_job_get_status(JobHandle job, out JobStatus status);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Result tsr_job_get_progress(JobHandle job, out uint stepsDone, out uint stepsTotal);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Result tsr_job_cancel(JobHandle job);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Result tsr_job_destroy(JobHandle job);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Result tsr_job_read_pixels(JobHandle job, byte[] pixels, UIntPtr capacity, uint rowPitch);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Result tsr_job_read_preview(JobHandle job, byte[] pixels, UIntPtr capacity, uint rowPitch);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Result tsr_job_get_vk_image(JobHandle job, out VkImageResult image);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Result tsr_job_read_map(JobHandle job, Map map, byte[] pixels, UIntPtr capacity, uint rowPitch);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Result tsr_job_get_map_vk_image(JobHandle job, Map map, out VkImageResult image);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Result tsr_job_copy_to_vk_image(JobHandle job, ref VkImageCopyDesc desc, out ulong semaphore, out ulong waitValue);

        public static string LastError() { return Utf8(tsr_get_last_error()); }

        public static string Utf8(IntPtr p)
        {
            if (p == IntPtr.Zero) return "";
            int n = 0;
            while (Marshal.ReadByte(p, n) != 0) ++n;
            var bytes = new byte[n];
            Marshal.Copy(p, bytes, 0, n);
            return Encoding.UTF8.GetString(bytes);
        }

        // A NUL-terminated UTF-8 copy in unmanaged memory; free with Marshal.FreeHGlobal.
        public static IntPtr AllocUtf8(string s)
        {
            if (s == null) return IntPtr.Zero;
            byte[] bytes = Encoding.UTF8.GetBytes(s);
            IntPtr p = Marshal.AllocHGlobal(bytes.Length + 1);
            Marshal.Copy(bytes, 0, p, bytes.Length);
            Marshal.WriteByte(p, bytes.Length, 0);
            return p;
        }

        public static string FromBuffer(byte[] b)
        {
            int n = Array.IndexOf(b, (byte)0);
            return Encoding.UTF8.GetString(b, 0, n < 0 ? b.Length : n);
        }
    }

    public class TesseraException : Exception
    {
        public readonly Result Code;
        public TesseraException(Result code, string message) : base(code + ": " + message) { Code = code; }

        internal static void Check(Result r)
        {
            if (r != Result.Success) throw new TesseraException(r, Native.LastError());
        }
    }

    // Options of one generation; zero/null fields take the library's defaults.
    public class GenerateOptions
    {
        public string ClassName;
        public uint ClassIndex;
        public ulong Seed;
        public uint Width, Height;
        public SamplerKind Sampler;
        public uint Steps;
        public float Guidance, Eta;
        public float MaxStepGflop; // 0 = the device type's default (CPU 50, GPU 5000), float.PositiveInfinity = no limit
        public float NormalStrength; // models with height: the normal map's height range in texels; 0 = 3
        public bool NormalDirectX;   // normal map convention +Y down (default OpenGL, +Y up)
        // img2img strength in [0, 1], as the C field: 0 (the default) re-runs nothing, so the
        // result is InitRgba; set it whenever InitRgba is given without a Mask (0.75 is a common
        // choice). Passed only with InitRgba and no Mask.
        public float Strength;
        public byte[] InitRgba; // width*height*4
        public byte[] Mask;     // width*height, 255 = generate
    }

    public sealed class Context : IDisposable
    {
        public Native.ContextHandle Handle;
        readonly Native.LogFn logDelegate; // kept alive while the library may call it

        // Own device (headless). log may be null (stderr).
        public Context(Action<LogLevel, string> log = null, ContextFlags flags = ContextFlags.None)
            : this(new Native.VulkanDevice(), log, flags) { }

        // The host's device (Unity: from IUnityGraphicsVulkan; pass the VkInstance etc. as IntPtr).
        public Context(Native.VulkanDevice vulkan, Action<LogLevel, string> log = null, ContextFlags flags = ContextFlags.None)
        {
            var desc = new Native.ContextDesc();
            desc.structSize = (uint)Marshal.SizeOf(typeof(Native.ContextDesc));
            desc.flags = flags;
            desc.vulkan = vulkan;
            if (log != null)
            {
                logDelegate = (user, level, message) => log(level, Native.Utf8(message));
                desc.log = Marshal.GetFunctionPointerForDelegate(logDelegate);
            }
            TesseraException.Check(Native.tsr_context_create(ref desc, out Handle));
        }

        public string DeviceName
        {
            get
            {
                var b = new byte[256];
                TesseraException.Check(Native.tsr_context_get_device_name(Handle, b, (UIntPtr)b.Length));
                return Native.FromBuffer(b);
            }
        }

        // Device memory this context holds now (tsr_context_get_memory).
        public Native.MemoryInfo Memory
        {
            get
            {
                var info = new Native.MemoryInfo();
                info.structSize = (uint)Marshal.SizeOf(typeof(Native.MemoryInfo));
                TesseraException.Check(Native.tsr_context_get_memory(Handle, ref info));
                return info;
            }
        }

        public Model LoadModel(string path)
        {
            IntPtr p = Native.AllocUtf8(path);
            try
            {
                var desc = new Native.ModelDesc();
                desc.structSize = (uint)Marshal.SizeOf(typeof(Native.ModelDesc));
                desc.path = p;
                Native.ModelHandle m;
                TesseraException.Check(Native.tsr_model_load(Handle, ref desc, out m));
                return new Model(m);
            }
            finally { Marshal.FreeHGlobal(p); }
        }

        public Model LoadModel(byte[] data)
        {
            var pin = GCHandle.Alloc(data, GCHandleType.Pinned);
            try
            {
                var desc = new Native.ModelDesc();
                desc.structSize = (uint)Marshal.SizeOf(typeof(Native.ModelDesc));
                desc.data = pin.AddrOfPinnedObject();
                desc.dataSize = (UIntPtr)data.Length;
                Native.ModelHandle m;
                TesseraException.Check(Native.tsr_model_load(Handle, ref desc, out m));
                return new Model(m);
            }
            finally { pin.Free(); }
        }

        // Returns at once; the job advances in Tick.
        public Job Submit(Model model, GenerateOptions o)
        {
            var desc = new Native.GenerateDesc();
            desc.structSize = (uint)Marshal.SizeOf(typeof(Native.GenerateDesc));
            desc.model = model.Handle;
            desc.classIndex = o.ClassIndex;
            desc.seed = o.Seed;
            desc.width = o.Width;
            desc.height = o.Height;
            desc.sampler = o.Sampler;
            desc.steps = o.Steps;
            desc.guidance = o.Guidance;
            desc.eta = o.Eta;
            desc.maxStepGflop = o.MaxStepGflop;
            desc.normalStrength = o.NormalStrength;
            desc.normalFlags = o.NormalDirectX ? 1u : 0u;
            desc.strength = o.InitRgba != null && o.Mask == null ? o.Strength : 0.0f;
            IntPtr name = Native.AllocUtf8(o.ClassName);
            GCHandle init = default(GCHandle), mask = default(GCHandle);
            try
            {
                desc.className = name;
                if (o.InitRgba != null)
                {
                    init = GCHandle.Alloc(o.InitRgba, GCHandleType.Pinned);
                    desc.initRgba = init.AddrOfPinnedObject();
                    desc.initRgbaSize = (UIntPtr)o.InitRgba.Length;
                }
                if (o.Mask != null)
                {
                    mask = GCHandle.Alloc(o.Mask, GCHandleType.Pinned);
                    desc.mask = mask.AddrOfPinnedObject();
                    desc.maskSize = (UIntPtr)o.Mask.Length;
                }
                Native.JobHandle j;
                TesseraException.Check(Native.tsr_generate_submit(Handle, ref desc, out j));
                return new Job(j);
            }
            finally
            {
                if (name != IntPtr.Zero) Marshal.FreeHGlobal(name);
                if (init.IsAllocated) init.Free();
                if (mask.IsAllocated) mask.Free();
            }
        }

        // Call once per frame with the GPU milliseconds Tessera may use.
        public Native.TickStats Tick(double budgetMs)
        {
            var stats = new Native.TickStats();
            stats.structSize = (uint)Marshal.SizeOf(typeof(Native.TickStats));
            TesseraException.Check(Native.tsr_tick(Handle, budgetMs, ref stats));
            return stats;
        }

        // The non-blocking tick (tsr_tick_async): submits within the budget and returns; the next call collects.
        public Native.TickStats TickAsync(double budgetMs)
        {
            var stats = new Native.TickStats();
            stats.structSize = (uint)Marshal.SizeOf(typeof(Native.TickStats));
            TesseraException.Check(Native.tsr_tick_async(Handle, budgetMs, ref stats));
            return stats;
        }

        public void Dispose()
        {
            if (Handle.id != 0) Native.tsr_context_destroy(Handle);
            Handle.id = 0;
        }
    }

    public sealed class Model : IDisposable
    {
        public Native.ModelHandle Handle;
        internal Model(Native.ModelHandle h) { Handle = h; }

        public Native.ModelInfo Info
        {
            get
            {
                var info = new Native.ModelInfo();
                info.structSize = (uint)Marshal.SizeOf(typeof(Native.ModelInfo));
                TesseraException.Check(Native.tsr_model_get_info(Handle, ref info));
                return info;
            }
        }

        public string ClassName(uint index)
        {
            var b = new byte[256];
            TesseraException.Check(Native.tsr_model_get_class_name(Handle, index, b, (UIntPtr)b.Length));
            return Native.FromBuffer(b);
        }

        public void Dispose()
        {
            if (Handle.id != 0) Native.tsr_model_destroy(Handle);
            Handle.id = 0;
        }
    }

    public sealed class Job : IDisposable
    {
        public Native.JobHandle Handle;
        internal Job(Native.JobHandle h) { Handle = h; }

        public JobStatus Status
        {
            get
            {
                JobStatus s;
                TesseraException.Check(Native.tsr_job_get_status(Handle, out s));
                return s;
            }
        }

        public bool Pending { get { var s = Status; return s == JobStatus.Queued || s == JobStatus.Running; } }

        public void Progress(out uint stepsDone, out uint stepsTotal)
        {
            TesseraException.Check(Native.tsr_job_get_progress(Handle, out stepsDone, out stepsTotal));
        }

        public void Cancel() { TesseraException.Check(Native.tsr_job_cancel(Handle)); }
        // Builds the job's sampler now (tsr_job_prepare), e.g. on a loading thread.
        public void Prepare() { TesseraException.Check(Native.tsr_job_prepare(Handle)); }

        // RGBA8, width*height*4 bytes (e.g. Texture2D.LoadRawTextureData in Unity).
        public byte[] ReadPixels(uint width, uint height) { return ReadMap(Map.Albedo, width, height); }

        // One map (Model.Info.mapMask) in the same RGBA8 form: grey maps in R = G = B.
        public byte[] ReadMap(Map map, uint width, uint height)
        {
            var pixels = new byte[width * height * 4];
            TesseraException.Check(Native.tsr_job_read_map(Handle, map, pixels, (UIntPtr)pixels.Length, 0));
            return pixels;
        }

        // The current estimate while running; null before the first step.
        public byte[] ReadPreview(uint width, uint height)
        {
            var pixels = new byte[width * height * 4];
            Result r = Native.tsr_job_read_preview(Handle, pixels, (UIntPtr)pixels.Length, 0);
            if (r == Result.NotReady) return null;
            TesseraException.Check(r);
            return pixels;
        }

        // Contexts on the host's device: the VkImage to sample once the timeline reaches waitValue.
        public Native.VkImageResult VulkanImage { get { return MapVulkanImage(Map.Albedo); } }

        // One map's own VkImage (since 1.3), under VulkanImage's rules.
        public Native.VkImageResult MapVulkanImage(Map map)
        {
            Native.VkImageResult image;
            TesseraException.Check(Native.tsr_job_get_map_vk_image(Handle, map, out image));
            return image;
        }

        public void Dispose()
        {
            if (Handle.id != 0) Native.tsr_job_destroy(Handle);
            Handle.id = 0;
        }
    }
}
