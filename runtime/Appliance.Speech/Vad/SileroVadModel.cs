using Appliance.Inference;
using Microsoft.ML.OnnxRuntime;

namespace Appliance.Speech.Vad;

/// <summary>
/// A loaded Silero VAD graph (v5 or v4, recognised from its inputs), shared by any number of
/// <see cref="SileroVoiceActivityDetector"/>s: each detector keeps its own recurrent state, and ONNX Runtime runs
/// concurrent calls on one session, so a hub with many meetings loads the graph once. The session runs on one thread (a
/// 32 ms window is far too small a job to share out). Dispose it after its detectors.
/// </summary>
public sealed class SileroVadModel : IDisposable
{
    internal const int WindowSamples = 512;

    private SileroVadModel(InferenceSession session, string executionProvider, int context, string[] stateInputs, string[] stateOutputs, long[] stateShape)
    {
        Session = session;
        ExecutionProvider = executionProvider;
        Context = context;
        StateInputs = stateInputs;
        StateOutputs = stateOutputs;
        StateShape = stateShape;
    }

    /// <summary>The execution provider the session runs on.</summary>
    public string ExecutionProvider { get; }

    internal InferenceSession Session { get; }

    /// <summary>Samples of the previous window put before each window (64 for v5, none for v4).</summary>
    internal int Context { get; }

    internal string[] StateInputs { get; }

    internal string[] StateOutputs { get; }

    internal long[] StateShape { get; }

    /// <summary>
    /// Loads <paramref name="modelPath"/>. A missing file, a graph that does not load, or one without Silero's inputs
    /// and outputs come back as the result's error.
    /// </summary>
    public static SpeechResult<SileroVadModel> Load(string modelPath, InferenceSettings? settings = null)
    {
        var opened = SpeechSessions.Open(modelPath, (settings ?? InferenceSettings.Cpu()) with { IntraOpThreads = 1, InterOpThreads = 1 });
        if (!opened.IsSuccess)
        {
            return SpeechResult.Failure<SileroVadModel>(opened.Error.Code, opened.Error.Message);
        }

        var session = opened.Value.Session;
        var inputs = session.InputMetadata;
        var outputs = session.OutputMetadata;
        if (inputs.ContainsKey("input") && inputs.ContainsKey("sr") && outputs.ContainsKey("output"))
        {
            if (inputs.TryGetValue("state", out var state) && outputs.ContainsKey("stateN"))
            {
                return SpeechResult.Success(new SileroVadModel(session, opened.Value.ExecutionProvider, 64, ["state"], ["stateN"], Batch1(state.Dimensions)));
            }

            if (inputs.TryGetValue("h", out var h) && inputs.ContainsKey("c") && outputs.ContainsKey("hn") && outputs.ContainsKey("cn"))
            {
                return SpeechResult.Success(new SileroVadModel(session, opened.Value.ExecutionProvider, 0, ["h", "c"], ["hn", "cn"], Batch1(h.Dimensions)));
            }
        }

        var names = string.Join(", ", inputs.Keys);
        session.Dispose();
        return SpeechResult.Failure<SileroVadModel>(SpeechErrorCode.ModelInvalid, $"{modelPath} is not a Silero VAD graph (inputs: {names}).");
    }

    /// <summary>A new detector on this graph. Throws <see cref="ArgumentException"/> for invalid <paramref name="options"/>.</summary>
    public SileroVoiceActivityDetector CreateDetector(VadOptions? options = null)
    {
        options ??= new VadOptions();
        if (options.Validate() is { } problem)
        {
            throw new ArgumentException(problem, nameof(options));
        }

        return new SileroVoiceActivityDetector(this, options, ownsModel: false);
    }

    /// <summary>Releases the ONNX Runtime session; dispose the detectors on it first, as they cannot run afterwards.</summary>
    public void Dispose() => Session.Dispose();

    // Batch 1 where the graph leaves the dimension symbolic ([2, -1, 128] → [2, 1, 128]).
    private static long[] Batch1(int[] dimensions) => [.. dimensions.Select(d => d < 0 ? 1L : d)];
}
