using System.Text.Json.Nodes;
using Appliance.Llm.ChatTemplates;
using Appliance.Profiles;

namespace Appliance.Llm.Tests.ChatTemplates;

/// <summary>
/// Where a model folder's chat template comes from, what it is rendered with, and how a template that fails is
/// reported: a model that does not load, or a request refused as invalid.
/// </summary>
[Collection(ForgedModelsGroup.Name)]
public sealed class ModelChatTemplateTests(ForgedModels models) : IDisposable
{
    private const string EchoTokens = "{{ bos_token }}|{{ eos_token }}|{{ pad_token }}|{{ unk_token is defined }}|{{ add_generation_prompt }}|{{ tools is none }}|{% for m in messages %}{{ m.role }}:{{ m.content }};{% endfor %}";

    private static readonly LlmMessage[] s_messages = [new("system", "Be brief."), new("user", "Hi")];

    private readonly string _root = Directory.CreateTempSubdirectory("chat-template-tests-").FullName;

    [Fact]
    public void TheTemplateStringOfTheTokenizerConfigIsRenderedWithTheSpecialTokens()
    {
        var folder = Folder(new JsonObject
        {
            ["chat_template"] = EchoTokens,
            ["bos_token"] = "<s>",
            ["eos_token"] = new JsonObject { ["__type"] = "AddedToken", ["content"] = "</s>", ["special"] = true },
            ["pad_token"] = null,
        });
        Assert.Equal("<s>|</s>||False|True|True|system:Be brief.;user:Hi;", Read(folder).Render(s_messages));
    }

    [Fact]
    public void FromAListOfNamedTemplatesTheDefaultIsTaken()
    {
        var folder = Folder(new JsonObject
        {
            ["chat_template"] = new JsonArray(
                new JsonObject { ["name"] = "tool_use", ["template"] = "tools" },
                new JsonObject { ["name"] = "default", ["template"] = "default:{{ messages|length }}" }),
        });
        Assert.Equal("default:2", Read(folder).Render(s_messages));
    }

    [Fact]
    public void AChatTemplateFileTakesPrecedenceOverTheConfig()
    {
        var folder = Folder(new JsonObject { ["chat_template"] = "from the config", ["bos_token"] = "<s>" });
        File.WriteAllText(Path.Combine(folder, ModelChatTemplate.TemplateFileName), "from the file {{ bos_token }}\n");
        Assert.Equal("from the file <s>", Read(folder).Render(s_messages));
    }

    [Fact]
    public void AFolderWithoutATemplateHasNone()
    {
        Assert.True(ModelChatTemplate.TryRead(Folder(new JsonObject { ["bos_token"] = "<s>" }), out var template, out _));
        Assert.Null(template);
        Assert.True(ModelChatTemplate.TryRead(Directory.CreateDirectory(Path.Combine(_root, "empty")).FullName, out template, out _));
        Assert.Null(template);
    }

    [Theory]
    [InlineData("{% if messages %}unclosed", "the chat template (tokenizer_config.json chat_template) does not parse: line 1, column 1: this '{% if %}' is never closed with '{% endif %}'")]
    [InlineData("ok\n{{ messages | map(attribute='role') }}", "the chat template (tokenizer_config.json chat_template) does not parse: line 2, column 15: unknown filter 'map'")]
    public void ATemplateThatDoesNotParseIsAReasonWithItsPosition(string source, string reason)
    {
        Assert.False(ModelChatTemplate.TryRead(Folder(new JsonObject { ["chat_template"] = source }), out var template, out var actual));
        Assert.Null(template);
        Assert.StartsWith(reason, actual, StringComparison.Ordinal);
    }

    [Fact]
    public void ANamedListWithoutADefaultOrAConfigThatIsNotJsonIsAReason()
    {
        var noDefault = Folder(new JsonObject { ["chat_template"] = new JsonArray(new JsonObject { ["name"] = "rag", ["template"] = "x" }) });
        Assert.False(ModelChatTemplate.TryRead(noDefault, out _, out var reason));
        Assert.Equal("the chat template cannot be read from tokenizer_config.json: chat_template names rag but no 'default'", reason);

        var broken = Directory.CreateDirectory(Path.Combine(_root, "broken")).FullName;
        File.WriteAllText(Path.Combine(broken, ModelChatTemplate.ConfigFileName), "{ not json");
        Assert.False(ModelChatTemplate.TryRead(broken, out _, out reason));
        Assert.StartsWith("the chat template cannot be read from tokenizer_config.json: ", reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AModelWhoseTemplateDoesNotParseFailsToLoadSayingWhere()
    {
        var model = ModelWithTemplate("bad-template", "{{ bos_token }}{% for m in messages %}{{ m.content | shout }}{% endfor %}");
        await using var service = new LlmService(ForgedModels.Options());
        var status = await service.LoadModelAsync(new ModelSpec { Id = "bad", Path = model });
        Assert.Equal(LlmModelState.Failed, status.State);
        Assert.Equal(LlmErrorCodes.ModelLoadFailed, status.Error!.Code);
        Assert.StartsWith("the chat template (tokenizer_config.json chat_template) does not parse: line 1, column 54: unknown filter 'shout'", status.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ATemplateThatRaisesRefusesTheRequestWithItsMessage()
    {
        const string Template = "{% for m in messages %}{% if m.role == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{{ m.content }}{% endfor %}";
        await using var service = new LlmService(ForgedModels.Options());
        Assert.Equal(LlmModelState.Loaded, (await service.LoadModelAsync(new ModelSpec { Id = "strict", Path = ModelWithTemplate("strict", Template) })).State);

        var refused = await Transcript.Of(service.GenerateAsync(new LlmRequest { Messages = s_messages, MaxTokens = 4 }));
        Assert.Equal(LlmErrorCodes.InvalidRequest, refused.Error.Code);
        Assert.Equal("the chat template of model strict refused the messages: System role not supported", refused.Error.Message);

        var served = await Transcript.Of(service.GenerateAsync(new LlmRequest { Messages = Prompts.User("Hi"), MaxTokens = 4, Temperature = 0 }));
        Assert.Equal(CountTokens(models.Tiny, "Hi"), served.Completed.Usage.PromptTokens);
    }

    [Fact]
    public async Task ATemplateThatFailsOtherwiseRefusesTheRequestSayingWhere()
    {
        await using var service = new LlmService(ForgedModels.Options());
        Assert.Equal(LlmModelState.Loaded, (await service.LoadModelAsync(new ModelSpec { Id = "sloppy", Path = ModelWithTemplate("sloppy", "{% for m in messages %}\n{{ m.content + loop.index }}{% endfor %}") })).State);

        var refused = await Transcript.Of(service.GenerateAsync(new LlmRequest { Messages = Prompts.User("Hi"), MaxTokens = 4 }));
        Assert.Equal(LlmErrorCodes.InvalidRequest, refused.Error.Code);
        Assert.Equal("the chat template of model sloppy failed on the messages (tokenizer_config.json chat_template line 2, column 4: unsupported operand types for +: 'str' and 'int')", refused.Error.Message);
    }

    [Fact]
    public async Task AModelWithoutATemplateGetsTheMessagesJoined()
    {
        var model = ModelWithTemplate("no-template", null);
        await using var service = new LlmService(ForgedModels.Options());
        Assert.Equal(LlmModelState.Loaded, (await service.LoadModelAsync(new ModelSpec { Id = "plain", Path = model })).State);
        var transcript = await Transcript.Of(service.GenerateAsync(new LlmRequest { Messages = [new("system", "Be brief."), new("user", "hi")], MaxTokens = 1, Temperature = 0 }));
        Assert.Equal(CountTokens(model, "Be brief.\nhi"), transcript.Completed.Usage.PromptTokens);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static ModelChatTemplate Read(string folder)
    {
        Assert.True(ModelChatTemplate.TryRead(folder, out var template, out var reason), reason);
        return Assert.IsType<ModelChatTemplate>(template);
    }

    private static int CountTokens(string model, string text)
    {
        using var genAi = new Microsoft.ML.OnnxRuntimeGenAI.Model(model);
        using var tokenizer = new Microsoft.ML.OnnxRuntimeGenAI.Tokenizer(genAi);
        using var sequences = tokenizer.Encode(text);
        return sequences[0].Length;
    }

    private string Folder(JsonObject tokenizerConfig)
    {
        var folder = Directory.CreateDirectory(Path.Combine(_root, Guid.NewGuid().ToString("N"))).FullName;
        File.WriteAllText(Path.Combine(folder, ModelChatTemplate.ConfigFileName), tokenizerConfig.ToJsonString());
        return folder;
    }

    // A copy of the forged tiny model whose tokenizer config holds this template, or none.
    private string ModelWithTemplate(string name, string? template)
    {
        var folder = Directory.CreateDirectory(Path.Combine(_root, name)).FullName;
        foreach (var file in Directory.EnumerateFiles(models.Tiny))
        {
            File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
        }

        var configPath = Path.Combine(folder, ModelChatTemplate.ConfigFileName);
        var config = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        config.Remove("chat_template");
        if (template is not null)
        {
            config["chat_template"] = template;
        }

        File.WriteAllText(configPath, config.ToJsonString());
        return folder;
    }
}
