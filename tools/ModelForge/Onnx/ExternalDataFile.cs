namespace Appliance.ModelForge.Onnx;

/// <summary>
/// The external-data file beside an ONNX graph (<c>model.onnx.data</c>, as ONNX Runtime GenAI's model builder
/// writes it): tensors are streamed into it one after another, so a model far larger than memory can be forged.
/// </summary>
internal sealed class ExternalDataFile : IDisposable
{
    private const int Alignment = 64;
    private readonly FileStream _stream;

    public ExternalDataFile(string directory, string fileName)
    {
        FileName = fileName;
        _stream = new FileStream(Path.Combine(directory, fileName), FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
    }

    /// <summary>The location recorded in each tensor, relative to the graph file.</summary>
    public string FileName { get; }

    /// <summary>Appends one tensor's bytes at an aligned offset and returns where they went.</summary>
    public (long Offset, long Length) Append(Action<Stream> write)
    {
        var padding = (int)((Alignment - (_stream.Position % Alignment)) % Alignment);
        if (padding > 0)
        {
            _stream.Write(new byte[padding]);
        }

        var offset = _stream.Position;
        write(_stream);
        return (offset, _stream.Position - offset);
    }

    public void Dispose() => _stream.Dispose();
}
