using System.Text;
using System.Text.Json;
using Appliance.Contracts;
using Appliance.Daemon.Llm;
using Appliance.Daemon.Tests.Infrastructure;
using Appliance.Llm;
using Appliance.ModelForge.Llm;
using Xunit.Abstractions;

namespace Appliance.Daemon.Tests;

/// <summary>A tiny R1-style model forged once for the class, and broken copies of it.</summary>
public sealed class ForgedLlmFolders : IDisposable
{
    public ForgedLlmFolders()
    {
        Root = Path.Combine(Path.GetTempPath(), "daemon-llm-" + Guid.NewGuid().ToString("N"));
        Tiny = Path.Combine(Root, "tiny");
        LlmForge.Write(LlmPreset.Tiny, 42, Tiny);
        Corrupt = DamagedCopies.TruncatedGraph(Tiny, Path.Combine(Root, "corrupt"));
        MissingInput = DamagedCopies.ConfigNamingMissingInput(Tiny, Path.Combine(Root, "missing-input"));
    }

    public string Root { get; }

    public string Tiny { get; }

    public string Corrupt { get; }

    public string MissingInput { get; }

    /// <summary>dev-x64 with the forged model as its voice model and a missing folder as its summary model.</summary>
    public string Profile() => TestProfiles.Write(p =>
    {
        p["models"]!["voiceLlm"] = new System.Text.Json.Nodes.JsonObject { ["id"] = "tiny-r1", ["path"] = Tiny, ["contextTokens"] = 512 };
        p["models"]!["summaryLlm"] = new System.Text.Json.Nodes.JsonObject { ["id"] = "not-installed", ["path"] = Path.Combine(Root, "nowhere") };
    });

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

/// <summary><c>llm.chat</c>, <c>llm.cancel</c> and the <c>models.*</c> methods over MQTT, with a tiny forged model in the daemon.</summary>
public sealed class LlmRpcTests(ForgedLlmFolders models, ITestOutputHelper output) : IClassFixture<ForgedLlmFolders>
{
    private static readonly LlmChatMessage[] UserSaysHello = [new("user", "Hello, turn on the kitchen lights.")];

    private async Task<RunningDaemon> StartAsync()
    {
        var daemon = await RunningDaemon.StartEmbeddedAsync(output, [$"--Profile={models.Profile()}"]);
        await daemon.Service<LlmHost>().InitialLoads.WaitAsync(TimeSpan.FromSeconds(30));
        return daemon;
    }

    [Fact]
    public async Task Llm_chat_streams_tokens_and_ends_with_usage()
    {
        await using var daemon = await StartAsync();
        await using var client = await daemon.ConnectAsync();

        var replies = await client.StreamAsync(RpcMethods.LlmChat, new LlmChatParams { Messages = UserSaysHello, MaxTokens = 12, Temperature = 0, Reasoning = "separate", ThinkingBudget = 4 }).ToListAsync();

        var deltas = replies.Where(r => !r.Final).Select(r => r.Delta!.Value).ToList();
        Assert.Equal("started", deltas[0].GetProperty("type").GetString());
        Assert.Equal("tiny-r1", deltas[0].GetProperty("model").GetString());
        Assert.True(deltas.Count(d => d.GetProperty("type").GetString() is "answer" or "reasoning") >= 2, "tokens should stream as separate deltas");
        Assert.Equal(Enumerable.Range(0, replies.Count), replies.Select(r => r.Seq));
        var result = replies[^1].Result!.Value;
        var usage = result.GetProperty("usage");
        Assert.Equal(12, usage.GetProperty("completionTokens").GetInt32());
        Assert.True(usage.GetProperty("promptTokens").GetInt32() > 5);
        Assert.True(usage.GetProperty("tokensPerSecond").GetDouble() > 0);
        Assert.True(usage.GetProperty("timeToFirstTokenMs").GetDouble() > 0);
        Assert.Equal("maxTokens", result.GetProperty("finishReason").GetString());
        var streamedAnswer = string.Concat(deltas.Where(d => d.GetProperty("type").GetString() == "answer").Select(d => d.GetProperty("text").GetString()));
        Assert.Equal(result.GetProperty("answer").GetString(), streamedAnswer);
    }

    [Fact]
    public async Task A_thinking_budget_bounds_the_reasoning_and_the_answer_never_holds_think_tags()
    {
        await using var daemon = await StartAsync();
        await using var client = await daemon.ConnectAsync();

        foreach (var budget in new[] { 0, 3, 10 })
        {
            var replies = await client.StreamAsync(RpcMethods.LlmChat, new LlmChatParams { Messages = UserSaysHello, MaxTokens = 40, Temperature = 0.8f, Seed = budget, Reasoning = "separate", ThinkingBudget = budget }).ToListAsync();
            var result = replies[^1].Result!.Value;
            var reasoningTokens = result.GetProperty("usage").GetProperty("reasoningTokens").GetInt32();
            var answer = result.GetProperty("answer").GetString()!;
            output.WriteLine($"budget {budget}: {reasoningTokens} reasoning tokens, answer {answer.Length} chars");

            Assert.InRange(reasoningTokens, 0, budget);
            Assert.DoesNotContain("<think>", answer, StringComparison.Ordinal);
            Assert.DoesNotContain("</think>", answer, StringComparison.Ordinal);
            var streamed = string.Concat(replies.Where(r => !r.Final && r.Delta!.Value.GetProperty("type").GetString() == "answer").Select(r => r.Delta!.Value.GetProperty("text").GetString()));
            Assert.Equal(answer, streamed);
        }
    }

    [Fact]
    public async Task Llm_cancel_stops_a_generation_within_one_token()
    {
        await using var daemon = await StartAsync();
        await using var log = await ReplyLog.ConnectAsync(daemon);

        var chat = await log.SendAsync(RpcMethods.LlmChat, new LlmChatParams { Messages = UserSaysHello, MaxTokens = 400, RequestId = "long-one", Reasoning = "separate", ThinkingBudget = 1000 });
        await log.WaitForAsync(a => a.Count(x => x.Request == chat) >= 6 || a.Any(x => x.Request == chat && x.Reply.Final), TimeSpan.FromSeconds(30));
        Assert.DoesNotContain(log.Arrivals, x => x.Request == chat && x.Reply.Final);
        var cancel = await log.SendAsync(RpcMethods.LlmCancel, new RequestIdParams { RequestId = "long-one" });
        await log.WaitForFinalAsync(chat, TimeSpan.FromSeconds(30));
        await log.WaitForFinalAsync(cancel, TimeSpan.FromSeconds(30));

        Assert.True(log.Final(cancel).Result!.Value.GetProperty("cancelled").GetBoolean());
        var arrivals = log.Arrivals;
        var cancelReplyAt = arrivals.ToList().FindIndex(x => x.Request == cancel);
        // The service stops within one token of the cancel (its own tests count that at the source). On the wire a
        // client can see at most that token, the one waiting in the generation's one-event hand-over, and the one
        // being published while the cancel's reply overtakes it.
        var tokensAfterCancel = arrivals.Skip(cancelReplyAt).Count(x => x.Request == chat && !x.Reply.Final);
        Assert.InRange(tokensAfterCancel, 0, 3);
        var result = log.Final(chat).Result!.Value;
        Assert.Equal("cancelled", result.GetProperty("finishReason").GetString());
        Assert.True(result.GetProperty("usage").GetProperty("completionTokens").GetInt32() < 400);
    }

    [Fact]
    public async Task Four_concurrent_requests_all_complete_interactive_ones_first()
    {
        await using var daemon = await StartAsync();
        await using var log = await ReplyLog.ConnectAsync(daemon);
        var service = daemon.Service<LlmService>();

        // A batch request that holds the only generation slot: every token is an event (reasoning streamed), the
        // service waits for its reader, and this test reads nothing more until the three requests below are queued.
        await using var running = service.GenerateAsync(new LlmRequest { Messages = [new LlmMessage("user", "Summarize the meeting.")], Priority = LlmPriority.Batch, MaxTokens = 40, Reasoning = ReasoningMode.Separate }).GetAsyncEnumerator();
        Assert.True(await running.MoveNextAsync());
        Assert.IsType<LlmStarted>(running.Current);
        Assert.Equal(1, service.RunningCount);
        // Reasoning is streamed, so each generation waits for its "started" delta to be published before it can end:
        // the order of the "started" deltas on the wire is then the order the service started them in.
        var batch = await log.SendAsync(RpcMethods.LlmChat, new LlmChatParams { Messages = UserSaysHello, MaxTokens = 4, Priority = "batch", Reasoning = "separate", RequestId = "summary-2" });
        var voice1 = await log.SendAsync(RpcMethods.LlmChat, new LlmChatParams { Messages = UserSaysHello, MaxTokens = 4, Priority = "interactive", Reasoning = "separate", RequestId = "voice-1" });
        var voice2 = await log.SendAsync(RpcMethods.LlmChat, new LlmChatParams { Messages = UserSaysHello, MaxTokens = 4, Priority = "interactive", Reasoning = "separate", RequestId = "voice-2" });
        using (var queued = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            while (service.QueuedCount < 3)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(5), queued.Token);
            }
        }

        var held = new List<LlmEvent>();
        while (await running.MoveNextAsync())
        {
            held.Add(running.Current);
        }

        Assert.IsType<LlmCompleted>(held[^1]);
        Assert.Equal(40, ((LlmCompleted)held[^1]).Usage.CompletionTokens);
        foreach (var request in new[] { batch, voice1, voice2 })
        {
            await log.WaitForFinalAsync(request, TimeSpan.FromSeconds(60));
            Assert.Null(log.Final(request).Error);
        }

        var startOrder = log.Arrivals
            .Where(x => !x.Reply.Final && x.Reply.Delta!.Value.GetProperty("type").GetString() == "started")
            .Select(x => x.Request)
            .ToList();
        // The three waited behind the running batch request; the service took both interactive ones before the batch
        // one. (Between the two interactive ones the order is the service's arrival order, which the daemon's
        // concurrent RPC workers do not fix.)
        Assert.Equal(3, startOrder.Count);
        Assert.Equal(new[] { voice1, voice2 }.Order(StringComparer.Ordinal), startOrder.Take(2).Order(StringComparer.Ordinal));
        Assert.Equal(batch, startOrder[2]);
    }

    [Fact]
    public async Task Models_are_listed_on_status_and_by_rpc_with_a_missing_one_reported()
    {
        await using var daemon = await StartAsync();
        await using var client = await daemon.ConnectAsync();

        var status = (await client.CallAsync("status.get")).Result!.Value;
        var listed = (await client.CallAsync("models.list")).Result!.Value;

        var onStatus = status.GetProperty("models").EnumerateArray().ToDictionary(m => m.GetProperty("id").GetString()!);
        Assert.Equal("loaded", onStatus["tiny-r1"].GetProperty("state").GetString());
        Assert.Equal("voiceLlm", onStatus["tiny-r1"].GetProperty("feature").GetString());
        Assert.Equal("CPUExecutionProvider", onStatus["tiny-r1"].GetProperty("executionProvider").GetString());
        Assert.Equal("failed", onStatus["not-installed"].GetProperty("state").GetString());
        Assert.Contains("does not exist", onStatus["not-installed"].GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal("degraded", status.GetProperty("health").GetProperty("checks").GetProperty("llm").GetProperty("status").GetString());
        Assert.Equal("tiny-r1", listed.GetProperty("defaultModel").GetString());
        var tiny = listed.GetProperty("models").EnumerateArray().Single(m => m.GetProperty("id").GetString() == "tiny-r1");
        Assert.True(tiny.GetProperty("kvCacheBytesPerToken").GetInt64() > 0);
        Assert.Equal(512, tiny.GetProperty("contextTokens").GetInt32());
    }

    [Fact]
    public async Task Bad_models_and_bad_requests_get_clear_errors_and_everything_else_keeps_working()
    {
        await using var daemon = await StartAsync();
        await using var client = await daemon.ConnectAsync();

        var corrupt = await client.CallAsync(RpcMethods.ModelsLoad, new ModelsLoadParams { Id = "corrupt", Path = models.Corrupt }, new RpcCallOptions { Timeout = TimeSpan.FromSeconds(30) });
        var missingInput = await client.CallAsync(RpcMethods.ModelsLoad, new ModelsLoadParams { Id = "missing-input", Path = models.MissingInput }, new RpcCallOptions { Timeout = TimeSpan.FromSeconds(30) });
        var unknownModel = await client.CallAsync(RpcMethods.LlmChat, new LlmChatParams { Messages = UserSaysHello, Model = "no-such-model" });
        var tooLong = await client.CallAsync(RpcMethods.LlmChat, new LlmChatParams { Messages = [new("user", new string('x', 4000))] });
        var noMessages = await client.CallAsync(RpcMethods.LlmChat, new LlmChatParams { MaxTokens = 3 });

        Assert.Equal("model_load_failed", corrupt.Error!.Code);
        Assert.Equal("model_load_failed", missingInput.Error!.Code);
        Assert.Contains("attn_mask_missing", missingInput.Error.Message, StringComparison.Ordinal);
        Assert.Equal("model_not_found", unknownModel.Error!.Code);
        Assert.Equal("prompt_too_long", tooLong.Error!.Code);
        Assert.Equal(RpcErrorCodes.InvalidParams, noMessages.Error!.Code);

        var status = await client.GetStatusAsync();
        Assert.True(status.Online);
        Assert.Contains(status.Models!, m => m.Id == "corrupt" && m.State == ModelStates.Failed);
        var stillWorks = await client.CallAsync(RpcMethods.LlmChat, new LlmChatParams { Messages = UserSaysHello, MaxTokens = 3 });
        Assert.Null(stillWorks.Error);
        Assert.True((await client.CallAsync("health.get")).Result.HasValue);
    }

    /// <summary>
    /// A model id follows one rule wherever it enters (the profile schema, models.load, models.unload, models.select,
    /// llm.chat): a path, a wildcard or an empty id is refused with invalid_params naming the rule, before anything
    /// is loaded or looked up.
    /// </summary>
    [Theory]
    [InlineData("../tiny")]
    [InlineData("a/b")]
    [InlineData("+")]
    [InlineData(".hidden")]
    [InlineData("")]
    public async Task A_model_id_that_breaks_the_rule_is_refused_at_every_method(string id)
    {
        await using var daemon = await StartAsync();
        await using var client = await daemon.ConnectAsync();

        var replies = new[]
        {
            await client.CallAsync(RpcMethods.ModelsLoad, new ModelsLoadParams { Id = id, Path = models.Tiny }),
            await client.CallAsync(RpcMethods.ModelsUnload, new ModelIdParams { Id = id }),
            await client.CallAsync(RpcMethods.ModelsSelect, new ModelIdParams { Id = id }),
            await client.CallAsync(RpcMethods.LlmChat, new LlmChatParams { Messages = UserSaysHello, Model = id, MaxTokens = 2 }),
        };

        Assert.All(replies, r => Assert.Equal(RpcErrorCodes.InvalidParams, r.Error?.Code));
        Assert.All(replies, r => Assert.Contains(Identifiers.ModelIdDescription, r.Error!.Message, StringComparison.Ordinal));
        Assert.DoesNotContain((await client.GetStatusAsync()).Models!, m => m.Id == id);
    }

    [Fact]
    public async Task Models_can_be_loaded_switched_and_unloaded_at_run_time()
    {
        await using var daemon = await StartAsync();
        await using var client = await daemon.ConnectAsync();

        var loaded = await client.CallAsync(RpcMethods.ModelsLoad, new ModelsLoadParams { Id = "second", Path = models.Tiny, ContextTokens = 256 }, new RpcCallOptions { Timeout = TimeSpan.FromSeconds(30) });
        var selected = await client.CallAsync(RpcMethods.ModelsSelect, new ModelIdParams { Id = "second" });
        var chat = await client.CallAsync(RpcMethods.LlmChat, new LlmChatParams { Messages = UserSaysHello, MaxTokens = 2 });
        var unloaded = await client.CallAsync(RpcMethods.ModelsUnload, new ModelIdParams { Id = "second" });
        var afterUnload = await client.CallAsync(RpcMethods.LlmChat, new LlmChatParams { Messages = UserSaysHello, MaxTokens = 2, Model = "second" });

        Assert.Equal("loaded", loaded.Result!.Value.GetProperty("state").GetString());
        Assert.Null(selected.Error);
        Assert.Equal("second", chat.Result!.Value.GetProperty("model").GetString());
        Assert.Null(unloaded.Error);
        Assert.Equal("model_not_found", afterUnload.Error!.Code);
    }
}
