using System.Globalization;
using Google.Protobuf;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Appliance.ModelForge.Onnx;

/// <summary>
/// Assembles an ONNX <see cref="ModelProto"/> (the generated protobuf classes of the OnnxSharp package) node by
/// node, with every initializer stored as external data.
/// </summary>
internal sealed class OnnxGraphBuilder
{
    private readonly GraphProto _graph = new() { Name = "main_graph" };
    private readonly HashSet<string> _constants = new(StringComparer.Ordinal);
    private readonly ExternalDataFile _data;

    public OnnxGraphBuilder(ExternalDataFile data) => _data = data;

    /// <summary>Adds a graph input; each dimension is a <see cref="long"/> size or a <see cref="string"/> symbol.</summary>
    public void AddInput(string name, DataType type, params object[] dims) => _graph.Input.Add(ValueInfo(name, type, dims));

    /// <summary>Adds a graph output; each dimension is a <see cref="long"/> size or a <see cref="string"/> symbol.</summary>
    public void AddOutput(string name, DataType type, params object[] dims) => _graph.Output.Add(ValueInfo(name, type, dims));

    /// <summary>Streams an initializer's bytes into the external-data file and records it in the graph.</summary>
    public string AddInitializer(string name, DataType type, long[] dims, Action<Stream> write)
    {
        var (offset, length) = _data.Append(write);
        var tensor = new TensorProto { Name = name, DataType = (int)type, DataLocation = TensorProto.Types.DataLocation.External };
        tensor.Dims.AddRange(dims);
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = _data.FileName });
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString(CultureInfo.InvariantCulture) });
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = length.ToString(CultureInfo.InvariantCulture) });
        _graph.Initializer.Add(tensor);
        return name;
    }

    /// <summary>
    /// An int64 constant named as the GenAI builder names them (<c>/model/constants/INT64/[1]</c> for a 1-D
    /// tensor, <c>/model/constants/INT64/1</c> for a scalar), made once and shared.
    /// </summary>
    public string Int64Constant(long value, bool vector) => vector ? Int64Vector(value) : Int64Tensor([value], scalar: true);

    /// <summary>A 1-D int64 constant (a shape, for example), named <c>/model/constants/INT64/[a, b]</c>, made once and shared.</summary>
    public string Int64Vector(params long[] values) => Int64Tensor(values, scalar: false);

    private string Int64Tensor(long[] values, bool scalar)
    {
        var text = string.Join(", ", values.Select(v => v.ToString(CultureInfo.InvariantCulture)));
        var name = scalar ? $"/model/constants/INT64/{text}" : $"/model/constants/INT64/[{text}]";
        if (_constants.Add(name))
        {
            var tensor = new TensorProto { Name = name, DataType = (int)DataType.Int64 };
            if (!scalar)
            {
                tensor.Dims.Add(values.Length);
            }

            tensor.Int64Data.AddRange(values);
            var node = Node("Constant", name.Replace("constants", "constant_nodes", StringComparison.Ordinal), [], [name]);
            node.Attribute.Add(new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = tensor });
        }

        return name;
    }

    /// <summary>
    /// Adds a node. Attribute values may be <see cref="long"/>, <see cref="int"/>, <see cref="float"/> or
    /// <see cref="string"/>. An empty input name marks an omitted optional input.
    /// </summary>
    public NodeProto Node(string opType, string name, string[] inputs, string[] outputs, string domain = "", params (string Name, object Value)[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = name, Domain = domain };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        foreach (var (attributeName, value) in attributes)
        {
            node.Attribute.Add(value switch
            {
                long i => new AttributeProto { Name = attributeName, Type = AttributeProto.Types.AttributeType.Int, I = i },
                int i => new AttributeProto { Name = attributeName, Type = AttributeProto.Types.AttributeType.Int, I = i },
                float f => new AttributeProto { Name = attributeName, Type = AttributeProto.Types.AttributeType.Float, F = f },
                string s => new AttributeProto { Name = attributeName, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(s) },
                _ => throw new ArgumentException($"Unsupported attribute type {value.GetType()} for '{attributeName}'.", nameof(attributes)),
            });
        }

        _graph.Node.Add(node);
        return node;
    }

    /// <summary>The model: IR version 10, ONNX opset 21 and com.microsoft opset 1, as the GenAI builder writes.</summary>
    public ModelProto Build()
    {
        var model = new ModelProto { IrVersion = 10, ProducerName = "onnxruntime-genai", Graph = _graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = 21 });
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.microsoft", Version = 1 });
        return model;
    }

    private static ValueInfoProto ValueInfo(string name, DataType type, object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var dim in dims)
        {
            shape.Dim.Add(dim switch
            {
                string symbol => new TensorShapeProto.Types.Dimension { DimParam = symbol },
                long size => new TensorShapeProto.Types.Dimension { DimValue = size },
                int size => new TensorShapeProto.Types.Dimension { DimValue = size },
                _ => throw new ArgumentException($"Unsupported dimension {dim} of '{name}'.", nameof(dims)),
            });
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }
}
