// MSBuild task: makes one symbol-version requirement of an ELF shared library weak.
//
// Why: TorchSharp 0.107.0's libLibTorchSharp.so was linked against GCC 13's libstdc++ and so
// asks for GLIBCXX_3.4.32. Debian 12 ships libstdc++ up to GLIBCXX_3.4.30, and the dynamic
// loader refuses the library (TorchSharp then reports, wrongly, that libtorch is missing).
// The only symbol bound to that version is `_ZSt21ios_base_library_initv`, a marker that
// GCC 13's <iostream> references and never calls. Marking the version need weak
// (VER_FLG_WEAK on its Vernaux entry) and binding the symbol to the global version lets the
// loader accept the library; the marker stays unresolved and is never used.
//
// The task changes nothing when the host libstdc++ already provides the version, when the
// library does not ask for it, or when any symbol other than the expected markers uses it.
// (The task is compiled by MSBuild's RoslynCodeTaskFactory against netstandard2.0.)
// It rewrites the file through a temporary name, so an interrupted build never leaves a
// half-written library.
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public class ElfVersionWeaken : Task
{
    [Required] public ITaskItem[] Files { get; set; } = Array.Empty<ITaskItem>();
    [Required] public string Version { get; set; } = "";
    /// <summary>Symbols that may be bound to Version; anything else aborts the patch.</summary>
    [Required] public string AllowedSymbols { get; set; } = "";
    /// <summary>Where to look for the host libstdc++; the patch runs only if none has Version.</summary>
    public string HostLibraries { get; set; } = "";

    const uint SHT_DYNSYM = 11, SHT_GNU_VERNEED = 0x6ffffffe, SHT_GNU_VERSYM = 0x6fffffff;
    const ushort VER_FLG_WEAK = 0x2, VER_NDX_GLOBAL = 1;

    public override bool Execute()
    {
        foreach (var host in HostLibraries.Split(new[] { ';' }, StringSplitOptions.RemoveEmptyEntries))
        {
            if (File.Exists(host) && FileContains(host, Encoding.ASCII.GetBytes(Version + "\0")))
            {
                Log.LogMessage(MessageImportance.Low, $"{host} provides {Version}; no patch needed.");
                return true;
            }
        }
        var allowed = new HashSet<string>(AllowedSymbols.Split(new[] { ';' }, StringSplitOptions.RemoveEmptyEntries));
        foreach (var item in Files)
        {
            string path = item.ItemSpec;
            try
            {
                string result = Patch(path, Version, allowed);
                Log.LogMessage(MessageImportance.Normal, $"ElfVersionWeaken {path}: {result}");
            }
            catch (Exception e)
            {
                Log.LogError($"ElfVersionWeaken: cannot patch {path}: {e.Message}");
            }
        }
        return !Log.HasLoggedErrors;
    }

    static bool FileContains(string path, byte[] needle)
    {
        byte[] hay = File.ReadAllBytes(path);
        for (int i = 0; i + needle.Length <= hay.Length; i++)
        {
            int j = 0;
            while (j < needle.Length && hay[i + j] == needle[j]) j++;
            if (j == needle.Length) return true;
        }
        return false;
    }

    public static string Patch(string path, string version, ISet<string> allowed)
    {
        byte[] b = File.ReadAllBytes(path);
        if (b.Length < 64 || b[0] != 0x7f || b[1] != (byte)'E' || b[2] != (byte)'L' || b[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (b[4] != 2 || b[5] != 1) throw new InvalidDataException("only little-endian ELF64 is supported");

        ulong U64(long o) => BitConverter.ToUInt64(b, checked((int)o));
        uint U32(long o) => BitConverter.ToUInt32(b, checked((int)o));
        ushort U16(long o) => BitConverter.ToUInt16(b, checked((int)o));
        void W16(long o, ushort v) => BitConverter.GetBytes(v).CopyTo(b, checked((int)o));
        string Str(long o) { int s = checked((int)o), e = s; while (b[e] != 0) e++; return Encoding.ASCII.GetString(b, s, e - s); }

        long shoff = (long)U64(0x28);
        int shentsize = U16(0x3A), shnum = U16(0x3C);
        var sections = Enumerable.Range(0, shnum).Select(i =>
        {
            long h = shoff + (long)i * shentsize;
            return (type: U32(h + 4), offset: (long)U64(h + 0x18), size: (long)U64(h + 0x20), link: U32(h + 0x28));
        }).ToArray();
        var verneed = sections.FirstOrDefault(s => s.type == SHT_GNU_VERNEED);
        var versym = sections.FirstOrDefault(s => s.type == SHT_GNU_VERSYM);
        var dynsym = sections.FirstOrDefault(s => s.type == SHT_DYNSYM);
        if (verneed.type == 0 || versym.type == 0 || dynsym.type == 0) return "no version sections; unchanged";
        long verneedStrings = sections[verneed.link].offset;
        long dynsymStrings = sections[dynsym.link].offset;

        // Find the Vernaux entry naming the version (Elf64_Verneed: 16 bytes, Elf64_Vernaux: 16 bytes).
        long auxOffset = -1; int index = -1;
        for (long vn = verneed.offset; ;)
        {
            ushort count = U16(vn + 2);
            long aux = vn + U32(vn + 8);
            for (int j = 0; j < count; j++)
            {
                if (Str(verneedStrings + U32(aux + 8)) == version) { auxOffset = aux; index = U16(aux + 6); }
                uint nextAux = U32(aux + 12);
                if (nextAux == 0) break;
                aux += nextAux;
            }
            uint next = U32(vn + 12);
            if (next == 0) break;
            vn += next;
        }
        if (auxOffset < 0) return $"does not ask for {version}; unchanged";

        // Every dynamic symbol bound to that version must be one we know is never called.
        var bound = new List<long>();
        for (long k = 0; k < versym.size / 2; k++)
        {
            if ((U16(versym.offset + 2 * k) & 0x7fff) != index) continue;
            string name = Str(dynsymStrings + U32(dynsym.offset + 24 * k));
            if (!allowed.Contains(name)) throw new InvalidDataException($"symbol {name} needs {version} and is not known to be unused");
            bound.Add(k);
        }
        ushort flags = U16(auxOffset + 4);
        if ((flags & VER_FLG_WEAK) != 0 && bound.Count == 0) return "already patched";

        W16(auxOffset + 4, (ushort)(flags | VER_FLG_WEAK));
        foreach (long k in bound) W16(versym.offset + 2 * k, VER_NDX_GLOBAL);

        string temp = path + ".patching";
        File.WriteAllBytes(temp, b);
        File.Replace(temp, path, null); // rename(2) on Unix: atomic
        return $"{version} marked weak, {bound.Count} symbol(s) rebound to the global version";
    }
}
